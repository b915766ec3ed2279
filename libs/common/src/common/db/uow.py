"""The unit of work: one Postgres transaction that owns commit and writes the outbox.

Rules: a use case changes state and records events through one ``UnitOfWork``; only ``commit``
commits, and it writes the recorded events to the outbox in the same transaction, so a state
change and its events are stored together or not at all. Leaving the block without commit rolls
everything back and nothing is published. The trace context current when an event is recorded
travels with it. Events are keyed (default: their subject) so order per key is kept downstream.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any

import asyncpg

from common.db.database import Database
from common.events.base import DEFAULT_MAX_EVENT_BYTES, Envelope, Event
from common.tracing import current_trace_carrier


def outbox_channel(schema: str) -> str:
    """The LISTEN/NOTIFY channel that wakes a schema's outbox relay."""
    return f"{schema}_outbox"


class UnitOfWork:
    """``async with UnitOfWork(db, producer="auth") as uow: ...; await uow.commit()``."""

    def __init__(
        self, db: Database, *, producer: str, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    ) -> None:
        self._db = db
        self._producer = producer
        self._max_event_bytes = max_event_bytes
        self._conn: asyncpg.Connection | None = None
        self._tx: Any = None
        self._pending: list[tuple[Envelope, str, bytes]] = []
        self.committed = False

    @property
    def conn(self) -> asyncpg.Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open")
        return self._conn

    async def __aenter__(self) -> UnitOfWork:
        """Acquire a connection and begin; if beginning fails or is cancelled, release it."""
        self._conn = await self._db.pool.acquire()
        try:
            self._tx = self._conn.transaction()
            await self._tx.start()
        except BaseException:
            conn, self._conn, self._tx = self._conn, None, None
            await self._db.pool.release(conn)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if not self.committed and self._tx is not None:
                await self._tx.rollback()
        finally:
            if self._conn is not None:
                await self._db.pool.release(self._conn)
            self._conn = None
            self._pending.clear()

    def record(
        self,
        payload: Event,
        *,
        subject: str,
        key: str | None = None,
        correlation_id: str | None = None,
    ) -> Envelope:
        """Record an event to publish if, and only if, this unit of work commits."""
        envelope = Envelope.wrap(
            payload,
            producer=self._producer,
            subject=subject,
            correlation_id=correlation_id,
            trace=current_trace_carrier(),
        )
        self._pending.append((envelope, key or subject, envelope.to_bytes(self._max_event_bytes)))
        return envelope

    @property
    def recorded(self) -> list[Envelope]:
        return [envelope for envelope, _, _ in self._pending]

    async def commit(self) -> None:
        conn = self.conn
        if self._pending:
            await conn.executemany(
                "INSERT INTO outbox (event_id, topic, message_key, envelope, headers) "
                "VALUES ($1, $2, $3, $4, $5::jsonb)",
                [
                    (
                        env.event_id,
                        env.topic,
                        key,
                        data,
                        json.dumps(env.trace.model_dump(exclude_none=True)),
                    )
                    for env, key, data in self._pending
                ],
            )
            await conn.execute("SELECT pg_notify($1, '')", outbox_channel(self._db.schema))
        await self._tx.commit()
        self.committed = True
        self._pending.clear()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: on error its changes and the events it recorded are undone."""
        mark = len(self._pending)
        try:
            async with self.conn.transaction():
                yield
        except BaseException:
            del self._pending[mark:]
            raise

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
