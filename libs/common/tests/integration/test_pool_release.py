"""A cancelled request releases its pooled connection, and a leaked connection is reported.

Rules: a request cancelled while its transaction waits on a lock gives its connection back (the
pool is whole afterwards); closing a pool that still lends a connection fails within its bound
and names the code and the task that acquired it, instead of hanging.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from coffre_testing.app import running_app
from coffre_testing.example.service import create_app
from coffre_testing.waiting import eventually
from common.db.database import ConnectionLeak, Database

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_request_cancelled_mid_transaction_releases_its_connection(example_settings):
    app = create_app(example_settings)
    async with running_app(app, wait_for_kafka=False) as client:
        db: Database = app.state.runtime.db
        blocker = await asyncpg.connect(example_settings.database_url.get_secret_value())
        try:
            await blocker.execute(f'SET search_path = "{db.schema}"')
            await blocker.execute("BEGIN; LOCK TABLE notes IN ACCESS EXCLUSIVE MODE")
            request = asyncio.create_task(
                client.post("/notes", json={"owner": "o", "seq": 1, "text": "held"})
            )

            async def request_waits_on_the_lock() -> bool:
                waiting = await db.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO notes%'"
                )
                return bool(waiting)

            await eventually(request_waits_on_the_lock)
            assert _held_by_requests(db) == 1
            request.cancel()
            with pytest.raises((asyncio.CancelledError, httpx.HTTPError)):
                await request
            await blocker.execute("ROLLBACK")
        finally:
            await blocker.close()

        async def pool_is_whole() -> bool:
            return _held_by_requests(db) == 0

        await eventually(pool_is_whole, timeout=10)
        answer = await client.post("/notes", json={"owner": "o", "seq": 2, "text": "after"})
        assert answer.status_code == 201
        assert await db.fetchval("SELECT count(*) FROM notes") == 1


def _held_by_requests(db: Database) -> int:
    return sum(1 for holder in db.holders() if "post_note" in holder.describe())


async def test_closing_a_pool_with_a_leaked_connection_names_who_acquired_it(infra, schema_name):
    db = await Database.connect(infra.database_url, schema_name, max_size=2, app="leak-test")
    await db.pool.acquire()
    with pytest.raises(ConnectionLeak) as failure:
        await db.close(timeout=1.0)
    assert "test_closing_a_pool_with_a_leaked_connection_names_who_acquired_it" in str(
        failure.value
    )
    assert db.pool.is_closing()
