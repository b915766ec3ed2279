"""Batched writes over the real Postgres: concurrent single writes share commits, each caller is
answered only once its write is durable, a bad write fails alone, and a failed COMMIT fails
every write of its batch with nothing written."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from coffre_testing.example.service import NoteRecorded
from common.db.batched_writes import BatchedWrites, Outgoing
from common.events.base import Envelope
from relay_it_helpers import migrated_db

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

INSERT_NOTE = "INSERT INTO notes (owner, seq, text) VALUES ($1, $2, $3)"


def _note(owner: str, seq: int) -> Outgoing:
    return Outgoing(NoteRecorded(note_id=seq, owner=owner, seq=seq, text="t"), subject=owner)


@pytest.mark.parametrize("lanes", [1, 4])
async def test_concurrent_writes_share_commits_and_each_is_durable_when_answered(
    infra, schema_name, lanes
):
    db = await migrated_db(infra.database_url, schema_name)
    woken: list[int] = []
    writes = BatchedWrites(db, producer="example", lanes=lanes, on_commit=lambda: woken.append(1))

    async def writer(index: int) -> None:
        owner = f"owner-{index}"  # one writer per key: its writes are the key's order
        for seq in range(index * 10, index * 10 + 10):
            await writes.write(INSERT_NOTE, owner, seq, "t", events=[_note(owner, seq)])
            async with db.pool.acquire() as other:  # durable and visible once answered
                assert await other.fetchval("SELECT count(*) FROM notes WHERE seq = $1", seq) == 1

    try:
        await asyncio.gather(*(writer(i) for i in range(16)))
        await writes.close()
        assert await db.fetchval("SELECT count(*) FROM notes") == 160
        rows = await db.fetch("SELECT message_key, envelope FROM outbox ORDER BY id")
        assert len(rows) == 160
        for owner in (f"owner-{i}" for i in range(16)):  # each key's events in write order
            seqs = [
                Envelope.model_validate_json(r["envelope"]).payload["seq"]
                for r in rows
                if r["message_key"] == owner
            ]
            assert len(seqs) == 10
            assert seqs == sorted(seqs)
        assert writes.writes_committed == 160
        assert writes.batches_committed < 160 / 2, "concurrent writes must share commits"
        assert len(woken) == writes.batches_committed
        assert db.pool.get_idle_size() == db.pool.get_size(), "every connection went back"
    finally:
        await db.close()


async def test_a_bad_write_fails_alone_with_its_own_error_and_the_others_commit(infra, schema_name):
    db = await migrated_db(infra.database_url, schema_name)
    writes = BatchedWrites(db, producer="example", lanes=1)  # the twelve in one batch
    try:
        seqs: list[object] = list(range(12))
        texts: list[object] = ["t"] * 12
        texts[5] = None  # violates NOT NULL in Postgres
        seqs[8] = "eight"  # refused by the client before it reaches Postgres
        results = await asyncio.gather(
            *(
                writes.write(INSERT_NOTE, "split", seq, text, events=[_note("split", i)])
                for i, (seq, text) in enumerate(zip(seqs, texts, strict=True))
            ),
            return_exceptions=True,
        )
        errors = {i: type(r).__name__ for i, r in enumerate(results) if r is not None}
        assert errors == {5: "NotNullViolationError", 8: "DataError"}
        notes = [r["seq"] for r in await db.fetch("SELECT seq FROM notes ORDER BY id")]
        assert notes == [s for s in range(12) if s not in (5, 8)]
        assert await db.fetchval("SELECT count(*) FROM outbox") == 10
        await writes.close()
        assert db.pool.get_idle_size() == db.pool.get_size(), "every connection went back"
    finally:
        await db.close()


async def test_a_failed_commit_fails_every_write_of_its_batch_and_writes_nothing(
    infra, schema_name
):
    db = await migrated_db(infra.database_url, schema_name)
    await db.pool.execute("""
        CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.owner = 'refused' THEN RAISE EXCEPTION 'no space left on device'; END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON notes
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
    """)  # fmt: skip
    writes = BatchedWrites(db, producer="example", lanes=1)  # the seven in one batch
    try:
        owners = ["fine"] * 3 + ["refused"] + ["fine"] * 3
        results = await asyncio.gather(
            *(
                writes.write(INSERT_NOTE, owner, seq, "t", events=[_note(owner, seq)])
                for seq, owner in enumerate(owners)
            ),
            return_exceptions=True,
        )
        assert all(isinstance(r, asyncpg.RaiseError) for r in results), results
        assert writes.batches_committed == 0
        assert await db.fetchval("SELECT count(*) FROM notes") == 0
        assert await db.fetchval("SELECT count(*) FROM outbox") == 0
        await writes.write(INSERT_NOTE, "fine", 99, "t", events=[_note("fine", 99)])
        assert await db.fetchval("SELECT count(*) FROM outbox") == 1
        await writes.close()
        assert db.pool.get_idle_size() == db.pool.get_size(), "every connection went back"
    finally:
        await db.close()
