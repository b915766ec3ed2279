"""A member's erasure in one schema's outbox, and the tombstone that keeps them erased.

Rules:
- ``forget_subject`` (in the erasing transaction) deletes every *sent* outbox row about the
  member at once: rows whose envelope names the member's id anywhere (as a JSON string), or
  whose message key is one of their other references (e.g. account refs).
- An *unsent* row is never deleted: it must still be published (the erasure's own
  ``ErasureCompleted`` is one). The member stays "purge pending" and ``purge_sent_rows`` (the
  re-check, run every few seconds by ``ErasurePurgeLoop``) deletes their rows once the relay
  marked them sent; the purge closes when none of their rows is left in the outbox. Knowing the
  member only by digest, it matches the envelope's subject, payload ``user_id``/``owner_ref``
  and the message key, and reads only rows from the first one pending at the erasure on.
- Each pass reads one snapshot: the deletion of sent rows and the count (and first id) of
  unsent ones are one statement, so a row the relay marks sent meanwhile is either deleted now
  or still waited for — never left behind as sent but not deleted.
- Rows written by transactions in flight at the erasure: ids are taken at insert, not at
  commit, so a transaction still open could commit a row about the member with an id below
  the purge's first id, which the re-check would never read. ``forget_subject`` therefore locks
  the outbox in SHARE mode first (in the erasing transaction): it waits until every
  transaction that has written to the outbox ended — a transaction holds its lock on the table
  from its INSERT on, before the id is taken — and keeps new outbox writes waiting until the
  erasure commits, so every row about the member is either seen by the erasure or has an id
  above everything it saw. Producers of the schema wait for the rest of the erasing
  transaction (erasures are rare and their transactions short); an erasure waits for the
  longest outbox writer open when it starts.
- The member is remembered only as the SHA-256 digest of their id and references (a tombstone,
  ``erased_subjects``), never in clear: ``is_erased`` tells a consumer to drop a late or
  redelivered event about them instead of storing their data again. The ids are random, so the
  digest identifies no one to a reader who does not already hold the id.
- Inbox rows hold only event ids; a service deletes the ones it can tie to the member
  (``forget_inbox_events``): a redelivery then meets the tombstone.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from common.db.database import Database
from common.logging import get_logger

log = get_logger(__name__)

_ENVELOPE = "convert_from(o.envelope, 'UTF8')::jsonb"


def _digest_sql(expression: str) -> str:
    return f"encode(sha256(convert_to(coalesce({expression}, ''), 'UTF8')), 'hex')"


_SUBJECT = _digest_sql(_ENVELOPE + "->>'subject'")
_USER = _digest_sql(_ENVELOPE + "->'payload'->>'user_id'")
_OWNER = _digest_sql(_ENVELOPE + "->'payload'->>'owner_ref'")
_KEY = _digest_sql("o.message_key")
_ABOUT_DIGESTS = (
    f"o.id >= $3 AND ({_SUBJECT} = ANY($1::text[]) OR {_USER} = ANY($1::text[])"
    f" OR {_OWNER} = ANY($1::text[]) OR {_KEY} = ANY($2::text[]))"
)
_ABOUT_CLEAR = "(position($1::bytea in o.envelope) > 0 OR o.message_key = ANY($2::text[]))"
_SENT = "DELETE FROM outbox o WHERE o.sent_at IS NOT NULL AND "
_UNSENT = "FROM outbox o WHERE o.sent_at IS NULL AND "
# The deletion and the count of what is left read one snapshot (one statement): read apart, the
# relay could mark rows sent in between, which then were neither deleted (still unsent for the
# deletion) nor waited for (already sent for the count) and stayed in the outbox for good.
_FORGET = (
    f"WITH gone AS ({_SENT}{_ABOUT_CLEAR} RETURNING 1),"  # noqa: S608
    f" left_over AS (SELECT count(*) AS n, min(o.id) AS first {_UNSENT}{_ABOUT_CLEAR})"
    " SELECT (SELECT count(*) FROM gone) AS deleted, left_over.n AS pending, left_over.first,"
    " (SELECT coalesce(max(id), 0) FROM outbox) AS newest FROM left_over"
)
_RECHECK = (
    f"WITH gone AS ({_SENT}{_ABOUT_DIGESTS} RETURNING 1)"  # noqa: S608
    " SELECT (SELECT count(*) FROM gone) AS deleted,"
    f" (SELECT count(*) {_UNSENT}{_ABOUT_DIGESTS}) AS pending"
)


def digest(value: str) -> str:
    """The SHA-256 (hex) of an id: how a tombstone names an erased member."""
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class OutboxPurge:
    deleted: int
    """Sent rows about the member deleted now."""
    pending: int
    """Rows about the member not sent yet: deleted by the re-check once sent."""


async def forget_subject(
    conn: asyncpg.Connection, subject: str, *, keys: Iterable[str] = (), now: datetime
) -> OutboxPurge:
    """Tombstone ``subject`` and purge their sent outbox rows, in the caller's transaction
    (which then holds the outbox's SHARE lock until it ends: commit it promptly)."""
    refs = sorted(set(keys))
    quoted = json.dumps(subject, ensure_ascii=False).encode()  # as in the envelope's JSON
    await conn.execute("LOCK TABLE outbox IN SHARE MODE")  # writers in flight end first
    found = await conn.fetchrow(_FORGET, quoted, refs)
    newest = int(found["newest"])
    from_id = min(found["first"] or newest + 1, newest + 1)
    await conn.execute(
        "INSERT INTO erased_subjects (digest, key_digests, erased_at, purge_from_id) "
        "VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO UPDATE SET purged_at = NULL, "
        "purge_from_id = CASE WHEN erased_subjects.purged_at IS NULL THEN least("
        "erased_subjects.purge_from_id, EXCLUDED.purge_from_id) ELSE EXCLUDED.purge_from_id END, "
        "key_digests = ARRAY(SELECT DISTINCT unnest("
        "erased_subjects.key_digests || EXCLUDED.key_digests))",
        digest(subject),
        sorted({digest(k) for k in refs}),
        now,
        from_id,
    )
    return OutboxPurge(int(found["deleted"]), int(found["pending"]))


async def is_erased(conn: asyncpg.Connection, *subjects: str | None) -> bool:
    """True when any of these ids belongs to an erased member (None ids are ignored)."""
    digests = [digest(s) for s in subjects if s]
    if not digests:
        return False
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM erased_subjects WHERE digest = ANY($1::text[]))",
        digests,
    )
    return bool(found)


async def forget_inbox_events(conn: asyncpg.Connection, event_ids: Sequence[str]) -> int:
    """Delete the inbox rows of these events (ids the service tied to an erased member)."""
    ids = [i for i in event_ids if i]
    if not ids:
        return 0
    return _count(
        await conn.execute(
            "DELETE FROM inbox WHERE event_id::text = ANY($1::text[])", sorted(set(ids))
        )
    )


async def purge_sent_rows(db: Database, now: datetime) -> int:
    """The re-check: delete sent rows of members whose purge is pending; close finished purges."""
    async with db.pool.acquire() as conn, conn.transaction():
        pending = await conn.fetch(
            "SELECT digest, key_digests, purge_from_id FROM erased_subjects "
            "WHERE purged_at IS NULL ORDER BY erased_at LIMIT 500 FOR UPDATE SKIP LOCKED"
        )
        deleted = 0
        for row in pending:
            about = ([row["digest"]], list(row["key_digests"]), row["purge_from_id"])
            found = await conn.fetchrow(_RECHECK, *about)
            deleted += int(found["deleted"])
            if not found["pending"]:
                await conn.execute(
                    "UPDATE erased_subjects SET purged_at = $2 WHERE digest = $1",
                    row["digest"],
                    now,
                )
    return deleted


def _count(status: str) -> int:
    return int(status.rsplit(" ", 1)[-1])


class ErasurePurgeLoop:
    """Runs ``purge_sent_rows`` every ``interval`` seconds until stopped; failures are logged."""

    def __init__(self, db: Database, interval: float = 5.0) -> None:
        self._db = db
        self._interval = interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="erasure-purge")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, 10)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                deleted = await purge_sent_rows(self._db, datetime.now(UTC))
                if deleted:
                    log.info("erased_outbox_rows_purged", rows=deleted)
            except Exception as exc:
                log.warning("erasure_purge_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._interval)
