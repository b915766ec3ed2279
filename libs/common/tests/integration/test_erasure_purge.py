"""A member's outbox rows: sent ones are deleted at the erasure, unsent ones once sent; the
member is then known only by a digest."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from common.db import Database, UnitOfWork, migrate
from common.db.erasure import digest, forget_subject, is_erased, purge_sent_rows
from common.events.erasure import ErasureRequested

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
NOW = datetime(2026, 12, 1, tzinfo=UTC)


async def _record(db: Database, subject: str, *, key: str | None = None) -> None:
    async with UnitOfWork(db, producer="test") as uow:
        event = ErasureRequested(user_id=subject, requested_at=NOW, request_id="r")
        uow.record(event, subject=subject, key=key)
        await uow.commit()


async def _envelopes(db: Database) -> list[str]:
    rows = await db.fetch("SELECT convert_from(envelope, 'UTF8') AS e FROM outbox ORDER BY id")
    return [r["e"] for r in rows]


async def test_sent_rows_go_at_once_unsent_ones_once_sent_and_others_stay(
    infra, schema_name: str
) -> None:
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db)
        await _record(db, "member-1", key="acct-ref-1")
        await _record(db, "acct-ref-1")  # e.g. a score of the member's account, owner unknown
        await _record(db, "someone-else", key="acct-ref-9")
        await db.fetch("UPDATE outbox SET sent_at = now()")
        await _record(db, "member-1")
        async with db.pool.acquire() as conn, conn.transaction():
            purge = await forget_subject(conn, "member-1", keys=["acct-ref-1"], now=NOW)
        assert (purge.deleted, purge.pending) == (2, 1)
        assert len(await _envelopes(db)) == 2
        assert await purge_sent_rows(db, NOW) == 0
        await db.fetch("UPDATE outbox SET sent_at = now()")
        assert await purge_sent_rows(db, NOW) == 1
        left = await _envelopes(db)
        assert len(left) == 1
        assert "someone-else" in left[0]
        assert await db.fetchval("SELECT purged_at FROM erased_subjects") == NOW
        tombstone = await db.fetchval("SELECT digest FROM erased_subjects")
        assert tombstone == digest("member-1")
        async with db.pool.acquire() as conn:
            assert await is_erased(conn, "member-1")
            assert not await is_erased(conn, "someone-else", None)
    finally:
        await db.close()


async def test_rows_the_relay_marks_sent_while_the_purge_runs_are_all_purged(
    infra, schema_name: str
) -> None:
    """The relay marks rows sent, three per commit, all the while the erasure and its re-checks
    run: every row about the member goes in the end, every other row stays."""
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db)
        await db.fetch(
            "INSERT INTO outbox (event_id, topic, message_key, envelope) "
            "SELECT gen_random_uuid(), 'bench.erasure', 'k', convert_to(json_build_object("
            "'subject', CASE WHEN n % 2 = 0 THEN 'member-1' ELSE 'someone-else' END,"
            " 'payload', json_build_object('n', n))::text, 'UTF8') "
            "FROM generate_series(1, 3000) AS n"
        )
        marking = asyncio.create_task(_mark_sent_three_at_a_time(db))
        async with db.pool.acquire() as conn, conn.transaction():
            await forget_subject(conn, "member-1", now=NOW)
        while not marking.done():
            await purge_sent_rows(db, NOW)
        await marking
        for _ in range(3):
            await purge_sent_rows(db, NOW)
        left = await _envelopes(db)
        assert not [e for e in left if "member-1" in e]
        assert len(left) == 1500
        assert await db.fetchval("SELECT purged_at FROM erased_subjects") == NOW
    finally:
        await db.close()


async def _mark_sent_three_at_a_time(db: Database) -> None:
    while await db.fetchval(
        "WITH marked AS (UPDATE outbox SET sent_at = now() WHERE id IN (SELECT id FROM outbox"
        " WHERE sent_at IS NULL ORDER BY id LIMIT 3) RETURNING 1) SELECT count(*) FROM marked"
    ):
        await asyncio.sleep(0)


async def test_a_row_committed_by_a_transaction_open_at_the_erasure_is_purged_too(
    infra, schema_name: str
) -> None:
    """A producer holds an outbox id about the member, uncommitted, while a later row commits
    (the outbox's newest id is then above it): the erasure waits for the producer, sees its row
    and purges it once sent, instead of closing the purge with the row left behind."""
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db)
        async with db.pool.acquire() as writer, db.pool.acquire() as eraser:
            in_flight = writer.transaction()
            await in_flight.start()
            await writer.execute(
                "INSERT INTO outbox (event_id, topic, message_key, envelope) VALUES "
                "(gen_random_uuid(), 'test.erasure', 'k', convert_to($1, 'UTF8'))",
                '{"subject": "member-1", "payload": {}}',
            )
            await _record(db, "someone-else")  # a higher id, committed before the erasure
            erasing = asyncio.create_task(_forget_in_transaction(eraser, "member-1"))
            pid = eraser.get_server_pid()
            query = "SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1"
            while await db.fetchval(query, pid) != "Lock":  # the erasure waits for the writer
                assert not erasing.done(), "the erasure did not wait for the open writer"
                await asyncio.sleep(0.01)
            await in_flight.commit()
            purge = await erasing
        assert (purge.deleted, purge.pending) == (0, 1)
        await db.fetch("UPDATE outbox SET sent_at = now()")  # the relay sent everything
        assert await purge_sent_rows(db, NOW) == 1
        left = await _envelopes(db)
        assert len(left) == 1
        assert "someone-else" in left[0]
        assert await db.fetchval("SELECT purged_at FROM erased_subjects") == NOW
    finally:
        await db.close()


async def _forget_in_transaction(conn, subject: str):
    async with conn.transaction():
        return await forget_subject(conn, subject, now=NOW)
