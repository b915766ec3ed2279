"""The relay under faults: a send failing mid-batch, a leader losing its connection, rows whose
ids were taken before a later row committed. Nothing lost, nothing out of order per key."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from coffre_testing.example.service import NoteRecorded
from coffre_testing.waiting import eventually
from common.db import Database, UnitOfWork
from common.messaging.lease import LeadershipLost, Lease
from common.messaging.relay import OutboxRelay
from relay_it_helpers import FlakyProducer, applied_order, migrated_db, write_notes

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@contextlib.asynccontextmanager
async def running(relay: OutboxRelay):
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        relay.stop()
        await asyncio.wait_for(task, 15)


async def _all_sent(db: Database) -> bool:
    return bool(await db.fetchval("SELECT count(*) = 0 FROM outbox WHERE sent_at IS NULL"))


async def test_a_send_failing_mid_batch_loses_nothing_and_keeps_order_per_key(infra, schema_name):
    db = await migrated_db(infra.database_url, schema_name)
    owners = [f"key-{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    producers: list[FlakyProducer] = []

    def factory() -> FlakyProducer:
        first = not producers
        producer = FlakyProducer(
            fail_call=3 if first else 0,
            bootstrap_servers=infra.bootstrap_servers,
            acks="all",
            linger_ms=5,
            max_batch_size=512,
        )
        producers.append(producer)
        return producer

    try:
        await write_notes(db, owners, per_owner=10)
        async with running(OutboxRelay(db, factory, max_backoff=0.5)):
            await eventually(lambda: _all_sent(db), timeout=30)
        applied = await applied_order(infra.bootstrap_servers, owners, expected=30)
        assert producers[0].calls >= 3, "the injected failure must have happened"
        assert applied == {owner: list(range(10)) for owner in owners}
    finally:
        await db.close()


async def test_a_row_committed_after_a_later_id_is_still_published(infra, schema_name):
    """Ids are taken at insert: the relay must not skip a row below what it already sent."""
    db = await migrated_db(infra.database_url, schema_name)
    owner = f"late-{uuid.uuid4().hex[:6]}"
    relay = OutboxRelay(
        db, lambda: FlakyProducer(fail_call=0, bootstrap_servers=infra.bootstrap_servers)
    )
    try:
        async with running(relay):
            async with UnitOfWork(db, producer="example") as slow:
                slow.record(NoteRecorded(note_id=0, owner=owner, seq=0, text="t"), subject=owner)
                await slow.flush()  # its outbox id is taken now, its commit comes later
                async with UnitOfWork(db, producer="example") as quick:
                    quick.record(
                        NoteRecorded(note_id=1, owner=owner, seq=1, text="t"), subject=owner
                    )
                    await quick.commit()
                await eventually(lambda: _all_sent(db))
                await slow.commit()
            await eventually(lambda: _all_sent(db))
        applied = await applied_order(infra.bootstrap_servers, [owner], expected=2)
        assert sorted(applied[owner]) == [0, 1]
    finally:
        await db.close()


async def test_killing_the_leaders_connection_never_leaves_two_leaders(infra, schema_name):
    db_a = await migrated_db(infra.database_url, schema_name, app="relay-a")
    db_b = await Database.connect(infra.database_url, schema_name, app="relay-b")
    owners = [f"lead-{i}-{uuid.uuid4().hex[:6]}" for i in range(2)]

    def factory() -> FlakyProducer:
        return FlakyProducer(fail_call=0, bootstrap_servers=infra.bootstrap_servers)

    a = OutboxRelay(db_a, factory, standby_interval=0.2, lease_seconds=2.0)
    b = OutboxRelay(db_b, factory, standby_interval=0.2, lease_seconds=2.0)
    both_led = False

    async def watch() -> None:
        nonlocal both_led
        while True:
            both_led = both_led or (a.is_leader and b.is_leader)
            await asyncio.sleep(0.01)

    watcher = asyncio.create_task(watch())
    try:
        async with running(a):

            async def a_leads() -> bool:
                return a.is_leader

            await eventually(a_leads)
            async with running(b):
                await write_notes(db_a, owners, per_owner=5)
                await eventually(lambda: _all_sent(db_a))
                attempts = b.lease_attempts
                await db_b.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'relay-a'"
                )

                async def b_contested_the_lease() -> bool:
                    return b.lease_attempts >= attempts + 3 and (a.is_leader or b.is_leader)

                await eventually(b_contested_the_lease)
                await write_notes(db_b, owners, per_owner=5, start=5)
                await eventually(lambda: _all_sent(db_b))
        applied = await applied_order(infra.bootstrap_servers, owners, expected=20)
        assert not both_led, "two relays led at the same time"
        assert applied == {owner: list(range(10)) for owner in owners}
    finally:
        watcher.cancel()
        await db_a.close()
        await db_b.close()


async def test_a_leader_whose_lease_was_taken_over_marks_nothing_sent(infra, schema_name):
    db = await migrated_db(infra.database_url, schema_name)
    try:
        await write_notes(db, ["fenced"], per_owner=2)
        ids = [r["id"] for r in await db.fetch("SELECT id FROM outbox ORDER BY id")]
        async with db.pool.acquire() as conn_a, db.pool.acquire() as conn_b:
            a = await Lease.acquire(conn_a, "replica-a", 5.0)
            assert a is not None
            assert await Lease.acquire(conn_b, "replica-b", 5.0) is None
            # replica a pauses past its lease (GC, network partition): b takes over
            await conn_b.execute("UPDATE outbox_relay_lease SET expires_at = now()")
            b = await Lease.acquire(conn_b, "replica-b", 5.0)
            assert b is not None
            assert b.generation == a.generation + 1
            with pytest.raises(LeadershipLost):
                await a.mark_sent(conn_a, ids)
            a.renew_at = 0.0
            with pytest.raises(LeadershipLost):
                await a.keep(conn_a)
            assert await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL") == 2
            await b.mark_sent(conn_b, ids)
        assert await _all_sent(db)
    finally:
        await db.close()
