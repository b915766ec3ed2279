"""Shared pieces of the relay's integration tests: a real producer that fails one send on
demand, a migrated schema, and what an inbox consumer would apply, read from the broker."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaTimeoutError
from coffre_testing.example.service import MIGRATIONS, NoteRecorded
from coffre_testing.waiting import patient
from common.db import Database, MigrationSet, UnitOfWork, migrate


class FlakyProducer(AIOKafkaProducer):  # type: ignore[misc]
    """A real producer whose ``fail_call``-th send (of a message or a batch) fails once, as a
    produce does when the broker times out, without reaching the broker."""

    def __init__(self, *, fail_call: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.fail_call = fail_call
        self.calls = 0

    def _maybe_fail(self) -> asyncio.Future[Any] | None:
        self.calls += 1
        if self.calls != self.fail_call:
            return None
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_exception(KafkaTimeoutError("injected produce timeout"))
        return future

    async def send(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        return self._maybe_fail() or await super().send(*args, **kwargs)

    async def send_batch(self, *args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        return self._maybe_fail() or await super().send_batch(*args, **kwargs)


async def migrated_db(database_url: str, schema: str, app: str = "coffre") -> Database:
    db = await Database.connect(database_url, schema, app=app)
    await migrate(db, MigrationSet.from_folder("example", MIGRATIONS))
    return db


async def write_notes(
    db: Database, owners: Sequence[str], per_owner: int, *, start: int = 0
) -> None:
    """Every owner's notes start..start+per_owner-1, interleaved, in one transaction."""
    async with UnitOfWork(db, producer="example") as uow:
        for seq in range(start, start + per_owner):
            for owner in owners:
                uow.record(NoteRecorded(note_id=seq, owner=owner, seq=seq, text="t"), subject=owner)
        await uow.commit()


async def applied_order(
    bootstrap: str, owners: Sequence[str], expected: int, timeout: float = 30.0
) -> dict[str, list[int]]:
    """The seqs an idempotent consumer applies per owner: log order, first copy of each id.
    Reads until ``expected`` distinct events arrived, or the timeout."""
    wanted = {owner.encode() for owner in owners}
    consumer = AIOKafkaConsumer(
        NoteRecorded.topic(),
        bootstrap_servers=bootstrap,
        group_id=f"probe-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = asyncio.get_running_loop().time() + patient(timeout)
    try:
        while asyncio.get_running_loop().time() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for batch in batches.values():
                records.extend(r for r in batch if r.key in wanted)
            if sum(map(len, first_copies(records).values())) >= expected:
                break
    finally:
        await consumer.stop()
    return first_copies(records)


def first_copies(records: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[str, list[int]]:
    seen: set[str] = set()
    applied: dict[str, list[int]] = {}
    for record in records:
        envelope = json.loads(record.value or b"{}")
        if envelope["event_id"] in seen:
            continue
        seen.add(envelope["event_id"])
        applied.setdefault(envelope["subject"], []).append(envelope["payload"]["seq"])
    return applied
