"""A service's connection pool, bound to the service's own Postgres schema.

Rules: every connection's search_path is the service's schema, so no service reads another's
tables by accident; the pool opens in the application lifespan, never at import. Closing is
bounded: a connection still held after ``close_timeout`` seconds is a leak, reported with the
code and the task that acquired it (log line ``db_pool_leak`` and a ``ConnectionLeak`` error),
and the pool is then terminated instead of waiting for ever.
A connection goes back to the pool reset (advisory locks, cursors, LISTEN, settings), except
one a unit of work hands back after ending its transaction cleanly (``release_clean``): a unit
of work leaves no session state behind (``SET LOCAL``, ``pg_advisory_xact_lock``), so the reset
round trip is skipped for it.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
from dataclasses import dataclass
from types import CodeType
from typing import Any

import asyncpg

from common.logging import get_logger

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
CLOSE_TIMEOUT = 15.0
_NOT_CALLERS = ("/asyncpg/", "/asyncio/", "/common/db/database.py", "/contextlib.py")

log = get_logger(__name__)


class ConnectionLeak(RuntimeError):
    """Connections were still acquired when the pool had to close."""


@dataclass(frozen=True)
class Acquisition:
    """Who holds a pooled connection: the task, the calling code and since when."""

    task: str
    site: tuple[str, ...]
    since: float

    def describe(self) -> str:
        held = time.monotonic() - self.since
        return f"task {self.task!r} for {held:.1f} s, acquired at {' < '.join(self.site)}"


_OUTSIDE: dict[CodeType, str | None] = {}


def _caller_site(depth: int = 4) -> tuple[str, ...]:
    """The innermost frames outside asyncpg, asyncio and this module (cheap: no source read;
    whether a code object is a caller, and its short name, are worked out once per code)."""
    frame = sys._getframe(1)
    site: list[str] = []
    while frame is not None and len(site) < depth:
        code = frame.f_code
        try:
            short = _OUTSIDE[code]
        except KeyError:
            short = _OUTSIDE[code] = _short_name(code)
        if short is not None:
            site.append(f"{short}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back  # type: ignore[assignment]
    return tuple(site)


def _short_name(code: CodeType) -> str | None:
    path = code.co_filename
    if any(part in path for part in _NOT_CALLERS):
        return None
    if len(_OUTSIDE) > 10_000:
        _OUTSIDE.clear()
    return "/".join(path.rsplit("/", 3)[-3:])


class Database:
    """An asyncpg pool whose connections live in one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._held: dict[int, Acquisition] = {}
        self._clean: set[int] = set()

    @classmethod
    async def connect(
        cls, dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, app: str = "coffre"
    ) -> Database:
        if not SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        except asyncpg.UniqueViolationError:
            pass  # another replica created it at the same moment
        finally:
            await admin.close()
        held: dict[int, Acquisition] = {}
        clean: set[int] = set()

        async def on_acquire(conn: Any) -> None:
            task = asyncio.current_task()
            name = task.get_name() if task is not None else "?"
            held[conn.get_server_pid()] = Acquisition(name, _caller_site(), time.monotonic())

        async def on_release(conn: Any) -> None:
            pid = conn.get_server_pid()
            held.pop(pid, None)
            if pid in clean:  # the pool already rolled back anything open and dropped listeners
                clean.discard(pid)
                return
            await conn.reset()

        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            server_settings={"search_path": schema, "application_name": app},
            setup=on_acquire,
            reset=on_release,
        )
        database = cls(pool, schema)
        database._held = held
        database._clean = clean
        return database

    async def release_clean(self, conn: Any) -> None:
        """Give back a connection whose transaction ended (committed or rolled back) and that
        holds no session state, without the reset query."""
        pid = conn.get_server_pid()
        self._clean.add(pid)
        try:
            await self.pool.release(conn)
        finally:
            self._clean.discard(pid)

    def in_use(self) -> int:
        """How many connections are acquired right now."""
        return int(self.pool.get_size() - self.pool.get_idle_size())

    def holders(self) -> list[Acquisition]:
        """Who holds the connections acquired right now (oldest first)."""
        return sorted(self._held.values(), key=lambda a: a.since)

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Close the pool; a connection not released within ``timeout`` is a reported leak."""
        try:
            await asyncio.wait_for(self.pool.close(), timeout)
        except TimeoutError:
            holders = [a.describe() for a in self.holders()]
            log.error("db_pool_leak", schema=self.schema, timeout_s=timeout, holders=holders)
            self.pool.terminate()
            raise ConnectionLeak(
                f"{len(holders)} connection(s) of schema {self.schema!r} not released within "
                f"{timeout} s: " + "; ".join(holders)
            ) from None

    async def ping(self) -> bool:
        async with self.pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1"))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(query, *args)
