"""The unit of work: one Postgres transaction that owns commit and writes the outbox.

Rules: a use case changes state and records events through one ``UnitOfWork``; only ``commit``
commits, and it writes the recorded events to the outbox in the same transaction, so a state
change and its events are stored together or not at all. Leaving the block without commit rolls
everything back and nothing is published. The trace context current when an event is recorded
travels with it. Events are keyed (default: their subject) so order per key is kept downstream.
Each envelope is serialised once, when recorded; the outbox rows go in with one statement. No
NOTIFY runs inside the transaction (it would serialise every commit on Postgres's notify lock):
after the commit, ``on_commit`` wakes the relay in-process (see ``common.messaging.wakeup``).
A unit of work leaves no session state behind (``SET LOCAL``, ``pg_advisory_xact_lock``, no
LISTEN): its connection goes back to the pool without the reset round trip.
Round trips: BEGIN, the use case's own statements, then the outbox rows and COMMIT. A few rows
go in the same round trip as COMMIT (a simple query whose values are hex literals: no input ever
reaches the SQL text); more go in one parameterised statement, then COMMIT (Postgres parses hex
literals at ~3x the cost of binary parameters, which outweighs a round trip from a few rows on).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, NamedTuple

import asyncpg

from common.db.database import Database
from common.events.base import DEFAULT_MAX_EVENT_BYTES, Envelope, Event, encode_envelope
from common.tracing import current_trace_carrier_cached

INSERT_OUTBOX = (
    "INSERT INTO outbox (event_id, topic, message_key, subject, envelope, headers) "
    "SELECT e.id, e.topic, e.key, e.subject, e.data, e.headers::jsonb FROM unnest("
    "$1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[]"
    ") AS e(id, topic, key, subject, data, headers)"
)

COPY_FROM_ROWS = 16  # from this many rows on, a binary COPY instead of INSERT … unnest


def outbox_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes a schema's outbox relay in other processes."""
    return f"{schema}_outbox"


class PendingEvent(NamedTuple):
    """A recorded event, already serialised, waiting for its unit of work to commit."""

    event_id: uuid.UUID
    topic: str
    key: str
    subject: str
    data: bytes
    headers: str


class EventSerialiser:
    """Serialises recorded events once, with the trace context current in the caller."""

    def __init__(self, producer: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._producer = producer
        self._max_event_bytes = max_event_bytes
        self._carrier: dict[str, str] | None = None
        self._headers = "{}"

    def pending(
        self, payload: Event, subject: str, key: str | None, correlation_id: str | None
    ) -> PendingEvent:
        """The event's envelope bytes and outbox row (keyed by ``key``, default its subject)."""
        carrier = current_trace_carrier_cached()
        event_id, _, data = encode_envelope(
            payload,
            producer=self._producer,
            subject=subject,
            correlation_id=correlation_id,
            trace=carrier,
            max_bytes=self._max_event_bytes,
        )
        if carrier is not self._carrier:
            self._carrier, self._headers = carrier, json.dumps(carrier)
        return PendingEvent(
            event_id, _topic(type(payload)), key or subject, subject, data, self._headers
        )


class UnitOfWork:
    """``async with UnitOfWork(db, producer="auth") as uow: ...; await uow.commit()``."""

    def __init__(
        self,
        db: Database,
        *,
        producer: str,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._db = db
        self._serialiser = EventSerialiser(producer, max_event_bytes)
        self._on_commit = on_commit
        self._conn: asyncpg.Connection | None = None
        self._open = False
        self._savepoints = 0
        self._pending: list[PendingEvent] = []
        self._flushed = 0
        self._after_commit: list[Callable[[], None]] = []
        self.committed = False

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    async def __aenter__(self) -> UnitOfWork:
        """Acquire a connection and begin; if beginning fails or is cancelled, the connection
        goes back to the pool at once (``__aexit__`` never runs for a failed ``__aenter__``)."""
        conn = await self._db.pool.acquire()
        try:
            await conn.execute("BEGIN")
        except BaseException:
            await self._db.pool.release(conn)
            raise
        self._conn, self._open = conn, True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        ended = self.committed
        try:
            if self._open and self._conn is not None:
                self._open = False
                await self._conn.execute("ROLLBACK")
                ended = True
        finally:
            if self._conn is not None:
                if ended:
                    await self._db.release_clean(self._conn)
                else:
                    await self._db.pool.release(self._conn)
            self._conn = None
            self._pending.clear()
            self._after_commit.clear()

    def record(
        self,
        payload: Event,
        *,
        subject: str,
        key: str | None = None,
        correlation_id: str | None = None,
    ) -> uuid.UUID:
        """Record an event to publish if, and only if, this unit of work commits; returns its
        event id. The envelope is serialised here, once, and never built as an object again
        (``recorded`` decodes the stored bytes for tests and diagnostics)."""
        pending = self._serialiser.pending(payload, subject, key, correlation_id)
        self._pending.append(pending)
        return pending.event_id

    @property
    def recorded(self) -> list[Envelope]:
        """The envelopes recorded so far, as stored (decoded again: tests and diagnostics)."""
        return [Envelope.model_validate_json(p.data) for p in self._pending]

    async def flush(self) -> None:
        """Write the events recorded so far to the outbox now, inside the transaction (their
        outbox ids are taken now; they are published only if the transaction commits)."""
        if self._pending:
            await write_outbox(self.conn, self._pending)
            self._flushed += len(self._pending)
            self._pending.clear()

    async def commit(self) -> None:
        """Write the recorded events to the outbox and commit (``commit_with_outbox``)."""
        events = len(self._pending)
        await commit_with_outbox(self.conn, self._pending)
        self._open = False
        self.committed = True
        self._pending.clear()
        if self._on_commit is not None and (events or self._flushed):
            self._on_commit()
        self._run_after_commit()

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit of work has committed, never if it rolls back: for
        in-memory effects (metrics) that must count only what is durable. It must not raise."""
        self._after_commit.append(callback)

    def _run_after_commit(self) -> None:
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on error its changes, the events it recorded and its
        ``after_commit`` callbacks are undone."""
        mark, callbacks = len(self._pending), len(self._after_commit)
        self._savepoints += 1
        name = f"coffre_sp_{self._savepoints}"
        conn = self.conn
        await conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            del self._pending[mark:]
            del self._after_commit[callbacks:]
            await conn.execute(f"ROLLBACK TO SAVEPOINT {name}; RELEASE SAVEPOINT {name}")
            raise
        await conn.execute(f"RELEASE SAVEPOINT {name}")

    async def claim_inbox_many(
        self, consumer: str, events: Sequence[tuple[uuid.UUID, str]]
    ) -> set[uuid.UUID]:
        """Record incoming events as processed; return the ids not seen before."""
        rows = await self.conn.fetch(
            "INSERT INTO inbox (consumer, event_id, topic) "
            "SELECT $1, e.id, e.topic FROM unnest($2::uuid[], $3::text[]) AS e(id, topic) "
            "ON CONFLICT DO NOTHING RETURNING event_id",
            consumer,
            [event_id for event_id, _ in events],
            [topic for _, topic in events],
        )
        return {row["event_id"] for row in rows}

    async def claim_inbox_unseen(
        self, consumer: str, events: Sequence[tuple[uuid.UUID, str]]
    ) -> set[uuid.UUID]:
        """Record incoming events expected to be new with one plain INSERT, or a binary COPY
        from ``COPY_FROM_ROWS`` on (cheaper than the conflict-tolerant ``claim_inbox_many``); if
        any was seen before (or comes twice), raises ``asyncpg.UniqueViolationError`` and the
        transaction is aborted: roll back and claim again with ``claim_inbox_many``."""
        if len(events) >= COPY_FROM_ROWS:
            await self.conn.copy_records_to_table(
                "inbox",
                records=[(consumer, event_id, topic) for event_id, topic in events],
                columns=("consumer", "event_id", "topic"),
            )
        else:
            await self.conn.execute(
                "INSERT INTO inbox (consumer, event_id, topic) "
                "SELECT $1, e.id, e.topic FROM unnest($2::uuid[], $3::text[]) AS e(id, topic)",
                consumer,
                [event_id for event_id, _ in events],
                [topic for _, topic in events],
            )
        return {event_id for event_id, _ in events}

    async def claim_inbox(self, consumer: str, event_id: Any, topic: str) -> bool:
        """Record an incoming event as processed; False when it already was (a redelivery)."""
        row = await self.conn.fetchval(
            "INSERT INTO inbox (consumer, event_id, topic) VALUES ($1, $2, $3) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            consumer,
            event_id,
            topic,
        )
        return row is not None


_TOPICS: dict[type[Event], str] = {}


def _topic(cls: type[Event]) -> str:
    topic = _TOPICS.get(cls)
    if topic is None:
        topic = _TOPICS[cls] = cls.topic()
    return topic


_OUTBOX_COLUMNS = "event_id, topic, message_key, subject, envelope, headers"


INLINE_OUTBOX_ROWS = 2


async def commit_with_outbox(conn: asyncpg.Connection, events: Sequence[PendingEvent]) -> None:
    """Insert the outbox rows and commit: in one round trip for up to ``INLINE_OUTBOX_ROWS``."""
    if len(events) > INLINE_OUTBOX_ROWS:
        await write_outbox(conn, events)
        await conn.execute("COMMIT")
    else:
        await conn.execute(outbox_insert_sql(events) + "COMMIT" if events else "COMMIT")


def outbox_insert_sql(events: Sequence[PendingEvent]) -> str:
    """One INSERT of the events' outbox rows as SQL text ending in ``;``: every value is a
    uuid (as ``str(UUID)`` writes it) or hex digits, so no input can change the statement."""
    rows = ",".join(
        f"('{e.event_id}'::uuid,{_text(e.topic)},{_text(e.key)},{_text(e.subject)},"
        f"decode('{e.data.hex()}','hex'),{_text(e.headers)}::jsonb)"
        for e in events
    )
    return f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES {rows};"  # noqa: S608 - uuids, hex


def _text(value: str) -> str:
    return f"convert_from(decode('{value.encode().hex()}','hex'),'UTF8')"


_OUTBOX_COPY_COLUMNS = ("event_id", "topic", "message_key", "subject", "envelope", "headers")


async def write_outbox(conn: asyncpg.Connection, events: Sequence[PendingEvent]) -> None:
    """Insert recorded events into the outbox with one statement (ids are taken here, at
    insert: a row with a lower id may become visible after one with a higher id): a binary COPY
    from ``COPY_FROM_ROWS`` rows on (``unnest`` arrays cost the client about three times the
    CPU: every element is checked), else one ``INSERT … unnest``."""
    if len(events) >= COPY_FROM_ROWS:
        await conn.copy_records_to_table("outbox", records=events, columns=_OUTBOX_COPY_COLUMNS)
        return
    await conn.execute(
        INSERT_OUTBOX,
        [e.event_id for e in events],
        [e.topic for e in events],
        [e.key for e in events],
        [e.subject for e in events],
        [e.data for e in events],
        [e.headers for e in events],
    )
