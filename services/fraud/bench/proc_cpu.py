"""CPU time of the processes a bench phase uses, from ``/proc`` (bench only, Linux).

Rules: a process's CPU is its user + system time; Postgres's is the postmaster's own and its
reaped children's (``cutime`` / ``cstime``) plus every live child's (its backends), found by
the port in the postmaster's command line; the embedded broker is found by its listener's
port. CPU time depends far less on the machine's load than wall time, so per-event figures
compare across runs on a shared machine.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def process_cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User + system time of ``pid`` (``children``: plus that of its reaped children)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / _TICK


def _pid_whose(matches: Callable[[list[bytes]], bool]) -> int | None:
    """The pid of a process here whose command line (its arguments) ``matches``, if any."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if matches(argv):
            return int(entry.name)
    return None


def postmaster_of(database_url: str) -> int | None:
    """The pid of the Postgres server started here with ``-p <the URL's port>``, if any."""
    port = str(urlsplit(database_url).port or 5432).encode()
    return _pid_whose(
        lambda argv: (
            argv[0].endswith(b"/postgres")
            and any(flag == b"-p" and value == port for flag, value in itertools.pairwise(argv))
        )
    )


def broker_of(bootstrap: str) -> int | None:
    """The pid of the embedded broker started here listening on the bootstrap's port, if any
    (its command line names ``--listener-url tcp://<host>:<port>``)."""
    port = b":" + bootstrap.split(",")[0].rsplit(":", 1)[-1].encode()
    return _pid_whose(
        lambda argv: any(
            flag == b"--listener-url" and value.endswith(port)
            for flag, value in itertools.pairwise(argv)
        )
    )


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU used so far by the Postgres server ``postmaster`` and all its backends."""
    total = process_cpu_seconds(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = _stat(int(entry.name))
            if int(fields[1]) == postmaster:
                total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, ValueError, IndexError):
            continue
    return total
