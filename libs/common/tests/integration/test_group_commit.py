"""Concurrent units of work share commits; a failing member undoes only its own changes."""

from __future__ import annotations

import asyncio

import pytest
from coffre_testing.example.service import NoteRecorded
from common.db.group_commit import GroupCommitter, SharedCommitUnitOfWork
from relay_it_helpers import migrated_db

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_concurrent_units_of_work_share_commits_and_a_failing_one_changes_nothing(
    infra, schema_name
):
    db = await migrated_db(infra.database_url, schema_name)
    committer = GroupCommitter(db)
    woken: list[int] = []

    async def member(seq: int) -> None:
        uow = SharedCommitUnitOfWork(
            db, committer, producer="example", on_commit=lambda: woken.append(seq)
        )
        async with uow:
            await uow.conn.execute(
                "INSERT INTO notes (owner, seq, text) VALUES ('grouped', $1, 't')", seq
            )
            uow.record(NoteRecorded(note_id=seq, owner="grouped", seq=seq, text="t"), subject="g")
            if seq == 7:
                raise RuntimeError("this member fails before its commit")
            await uow.commit()
        async with db.pool.acquire() as other:  # durable and visible once commit returned
            assert await other.fetchval("SELECT count(*) FROM notes WHERE seq = $1", seq) == 1

    try:
        results = await asyncio.gather(*(member(seq) for seq in range(20)), return_exceptions=True)
        assert [type(r).__name__ for r in results if r is not None] == ["RuntimeError"]
        await committer.close()
        notes = [r["seq"] for r in await db.fetch("SELECT seq FROM notes ORDER BY seq")]
        events = await db.fetchval("SELECT count(*) FROM outbox")
        assert notes == [s for s in range(20) if s != 7]
        assert events == 19
        assert sorted(woken) == notes
        assert committer.members_committed == 19
        assert committer.groups_committed < 19, "concurrent members must share commits"
        assert db.pool.get_idle_size() == db.pool.get_size(), "every connection went back"
    finally:
        await db.close()
