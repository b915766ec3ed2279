"""The group-commit audit writer in Postgres (all its SQL lives here).

Rules:
- Every batch is written behind one fence: ``audit_head`` moves from the head the batch was
  chained after to the new one — only if the head is still there and no subject epoch a written
  entry relies on moved — and every entry is inserted, atomically. A batch of fewer than
  ``COPY_FROM`` entries is one statement (``INSERT … SELECT FROM jsonb_to_recordset``, one round
  trip); a larger one is a transaction of that same fenced head update then a binary ``COPY`` of
  the rows (half the Postgres CPU per row of parsing them from JSON). A fence that fails writes
  nothing.
- One replica leads (a session advisory lock, like the outbox relay) and chains after the head
  it last wrote, on the very connection that holds the lock: one round trip per batch.
- A replica without the lease, and the leader whose fence failed (a unit of work's own entry,
  another replica, a lost lease), read the head and the batch's subject epochs in one statement,
  chain after that head (entries whose subject moved are left out: their callers decide again)
  and write behind the same fence. No lock is held between round trips, so replicas never wait
  on each other's commits.
- After ``OPTIMISTIC_TRIES`` fences lost to other writers, a batch takes the locked way: one
  transaction that locks the head row, reads the epochs, chains, inserts and moves the head.
  The head row lock, or the fence, keeps one unbroken chain whoever writes.
- An epoch only moves in a transaction that also moves the head, so a batch that sees the head
  unmoved also sees every epoch change committed before it.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager

import asyncpg
from common.db.database import Database

from vault.domain.audit import GENESIS_HASH, AuditRequest, Head, Link, chain_links, stale_requests

_COLUMNS = (
    "seq, at, actor, action, outcome, subject, purpose, ref, operator, detail, prev_hash, hash"
)
_NAMES = _COLUMNS.split(", ")
_ROWS = (
    "jsonb_to_recordset($1::jsonb) AS t(seq bigint, at timestamptz, actor text, action text,"
    " outcome text, subject text, purpose text, ref text, operator text, detail jsonb,"
    " prev_hash text, hash text)"
)
_SELECT = f"SELECT {_COLUMNS} FROM {_ROWS}"  # noqa: S608
_FENCED = (
    "WITH moved AS (UPDATE audit_head SET seq = $2, hash = $3"  # noqa: S608
    " WHERE id = 1 AND seq = $4 AND hash = $5 AND NOT EXISTS ("
    " SELECT 1 FROM unnest($6::text[], $7::bigint[]) AS x(subject, epoch)"
    " LEFT JOIN subject_epochs e ON e.subject = x.subject WHERE coalesce(e.epoch, 0) <> x.epoch)"
    " RETURNING 1)"
    f" INSERT INTO audit_log ({_COLUMNS}) {_SELECT} WHERE EXISTS (SELECT 1 FROM moved)"
)
_INSERT = f"INSERT INTO audit_log ({_COLUMNS}) {_SELECT}"
_MOVE_HEAD = (
    "UPDATE audit_head SET seq = $1, hash = $2"
    " WHERE id = 1 AND seq = $3 AND hash = $4 AND NOT EXISTS ("
    " SELECT 1 FROM unnest($5::text[], $6::bigint[]) AS x(subject, epoch)"
    " LEFT JOIN subject_epochs e ON e.subject = x.subject WHERE coalesce(e.epoch, 0) <> x.epoch)"
    " RETURNING 1"
)
_HEAD_AND_EPOCHS = (
    "SELECT h.seq, h.hash, e.subject, e.epoch FROM audit_head h"
    " LEFT JOIN subject_epochs e ON e.subject = ANY($1::text[]) WHERE h.id = 1"
)
COPY_FROM = 64
"""Entries from which a fenced batch is copied rather than inserted from one JSON parameter."""
OPTIMISTIC_TRIES = 2
"""Fences a batch may lose to other writers before it takes the locked way."""


def batch_rows(links: Sequence[Link]) -> str:
    """The entries as one JSON array (one parameter: no per-value encoding on the way): each
    row is the canonical body its hash was computed over, plus the two hashes."""
    return "[" + ",".join([_row(link) for link in links]) + "]"


def _row(link: Link) -> str:
    return f'{link.canonical[:-1].decode()},"prev_hash":"{link.prev_hash}","hash":"{link.hash}"}}'


def copy_records(
    requests: Sequence[AuditRequest], links: Sequence[Link | None]
) -> list[tuple[object, ...]]:
    """The rows of the written links for ``COPY`` (columns in ``_COLUMNS`` order): the draft's
    fields and time, as the canonical body the hash covers holds them, and the two hashes."""
    details: dict[int, tuple[object, str]] = {}
    rows: list[tuple[object, ...]] = []
    for (draft, at, _), link in zip(requests, links, strict=True):
        if link is None:
            continue
        known = details.get(id(draft.detail))
        if known is None or known[0] is not draft.detail:
            known = details[id(draft.detail)] = (draft.detail, _json(draft.detail))
        rows.append((
            link.seq, at, draft.actor, draft.action, draft.outcome, draft.subject, draft.purpose,
            draft.ref, draft.operator, known[1], link.prev_hash, link.hash,
        ))  # fmt: skip
    return rows


def _epochs(
    requests: Sequence[AuditRequest], links: Sequence[Link | None] | None = None
) -> tuple[list[str], list[int]]:
    """The (subject, epoch) pairs the requests were decided on — only the written ones' when
    ``links`` are given (an entry left out for its moved subject must not fail the fence)."""
    if links is None:
        pairs = {r.subject_epoch for r in requests if r.subject_epoch is not None}
    else:
        pairs = {
            r.subject_epoch
            for r, link in zip(requests, links, strict=True)
            if link is not None and r.subject_epoch is not None
        }
    return [s for s, _ in pairs], [e for _, e in pairs]


class PgAuditBatches:
    def __init__(
        self, database: Callable[[], Database], *, lease_retry_seconds: float = 2.0
    ) -> None:
        self._database = database
        self._lease_retry_seconds = lease_retry_seconds
        self._lease: asyncpg.pool.PoolConnectionProxy | None = None
        self._next_try = 0.0

    @property
    def leading(self) -> bool:
        return self._lease is not None

    async def write(
        self, requests: Sequence[AuditRequest], head: Head | None, trusted: bool
    ) -> tuple[list[Link | None], Head | None]:
        await self._try_lead()
        if trusted and self._lease is not None:
            links = chain_links(head, requests)
            if await self._fenced(self._lease, requests, links, head):
                return links, _last(links, head)
        for _ in range(OPTIMISTIC_TRIES):
            async with self._connection() as conn:
                links, head = await self._chained_after_current_head(conn, requests)
                if _none_written(links) or await self._fenced(conn, requests, links, head):
                    return links, _last(links, head)
        return await self._locked(requests)

    async def _chained_after_current_head(
        self, conn: asyncpg.Connection, requests: Sequence[AuditRequest]
    ) -> tuple[list[Link | None], Head | None]:
        """The batch chained after the head as it is now (one statement reads the head and the
        subjects' epochs); entries whose subject moved are left out."""
        subjects, _ = _epochs(requests)
        rows = await conn.fetch(_HEAD_AND_EPOCHS, subjects)
        head = Head(rows[0]["seq"], rows[0]["hash"]) if rows[0]["seq"] else None
        epochs = {r["subject"]: r["epoch"] for r in rows if r["subject"] is not None}
        return chain_links(head, requests, stale_requests(requests, epochs)), head

    async def _fenced(
        self,
        conn: asyncpg.Connection,
        requests: Sequence[AuditRequest],
        links: list[Link | None],
        head: Head | None,
    ) -> bool:
        written = [link for link in links if link is not None]
        subjects, epochs = _epochs(requests, links)
        fence = (
            written[-1].seq, written[-1].hash, head.seq if head else 0,
            head.hash if head else GENESIS_HASH, subjects, epochs,
        )  # fmt: skip
        if len(written) < COPY_FROM:
            status: str = await conn.execute(_FENCED, batch_rows(written), *fence)
            return status == f"INSERT 0 {len(written)}"
        records = copy_records(requests, links)
        async with conn.transaction():
            if await conn.fetchval(_MOVE_HEAD, *fence) is None:
                return False  # nothing changed: the empty transaction commits nothing
            await conn.copy_records_to_table("audit_log", records=records, columns=_NAMES)
        return True

    async def _locked(
        self, requests: Sequence[AuditRequest]
    ) -> tuple[list[Link | None], Head | None]:
        async with self._connection() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE")
            head = Head(row["seq"], row["hash"]) if row["seq"] else None
            subjects, _ = _epochs(requests)
            rows = await conn.fetch(
                "SELECT subject, epoch FROM subject_epochs WHERE subject = ANY($1::text[])",
                subjects,
            )
            stale = stale_requests(requests, {r["subject"]: r["epoch"] for r in rows})
            links = chain_links(head, requests, stale)
            written = [link for link in links if link is not None]
            if written:
                await conn.execute(_INSERT, batch_rows(written))
                head = Head(written[-1].seq, written[-1].hash)
                await conn.execute(
                    "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", head.seq, head.hash
                )
        return links, head

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._lease is not None:
            yield self._lease
            return
        async with self._database().pool.acquire() as conn:
            yield conn

    async def _try_lead(self) -> None:
        """Lead when no other replica does; a broken lease connection is given up."""
        if self._lease is not None:
            if self._lease.is_closed():
                await self.close()
            return
        if time.monotonic() < self._next_try:
            return
        self._next_try = time.monotonic() + self._lease_retry_seconds
        db = self._database()
        conn = await db.pool.acquire()
        try:
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _lock_key(db.schema)):
                self._lease, conn = conn, None
        finally:
            if conn is not None:
                await db.pool.release(conn)

    async def close(self) -> None:
        """Give up the lease (releasing the connection unlocks it)."""
        lease, self._lease = self._lease, None
        if lease is not None:
            try:
                await self._database().pool.release(lease)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                lease.terminate()


def _none_written(links: Sequence[Link | None]) -> bool:
    return all(link is None for link in links)


def _last(links: Sequence[Link | None], head: Head | None) -> Head | None:
    """The head after the written links (``head`` when none was written)."""
    for link in reversed(links):
        if link is not None:
            return Head(link.seq, link.hash)
    return head


def _json(detail: object) -> str:
    return json.dumps(detail, separators=(",", ":"), sort_keys=True)


def _lock_key(schema: str) -> int:
    return zlib.crc32(f"audit-appender:{schema}".encode()) & 0x7FFFFFFF
