"""The appender's batches over the real Postgres: large ones written with ``COPY`` behind the same
fenced head update as small ones — the same rows a small batch writes, nothing when the head
moved meanwhile (the batch is then chained again after the moved head), one unbroken chain
either way; a replica without the lease writes behind the same fence, never holding the head's
lock."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest
from common.db.database import Database
from vault.adapters.pg_audit import PgAuditLog
from vault.adapters.pg_audit_batches import COPY_FROM, PgAuditBatches
from vault.domain.audit import AuditDraft, AuditRequest, Head, Outcome
from vault.service import audit as audit_use_cases
from vault.service.context import VaultContext, audit_now

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _requests(count: int, member: str, epoch: int | None = None) -> list[AuditRequest]:
    at = datetime.now(UTC)
    detail = {"key_id": "3f1c7a52-5d0e-4c1e-9f3c-2a7d8e6b1c90"}
    return [
        AuditRequest(
            AuditDraft(
                "archive",
                "datakey.unwrap",
                Outcome.ALLOWED,
                f"{member}-{i % 3}",
                "document",
                f"doc-{i}",
                None,
                detail,
            ),
            at,
            None if epoch is None else (f"{member}-{i % 3}", epoch),
        )
        for i in range(count)
    ]


async def _rows(db: Database, after: int) -> list[tuple[int, str, str, str, str, datetime]]:
    rows = await db.pool.fetch(
        "SELECT seq, actor, subject, ref, detail::text, at FROM audit_log WHERE seq > $1"
        " ORDER BY seq",
        after,
    )
    return [(r["seq"], r["actor"], r["subject"], r["ref"], r["detail"], r["at"]) for r in rows]


async def test_a_large_batch_is_copied_as_the_same_rows_on_one_chain(
    pg: tuple[Database, VaultContext], member: str
) -> None:
    db, ctx = pg
    writer = PgAuditBatches(lambda: db)
    try:
        head = await audit_use_cases.head(ctx)
        small, large = _requests(COPY_FROM - 1, member), _requests(COPY_FROM * 3, member)
        links, after_small = await writer.write(small, head, trusted=True)
        assert writer.leading
        last = links[-1]
        assert last is not None
        assert after_small == Head(last.seq, last.hash)
        links, after_large = await writer.write(large, after_small, trusted=True)
        assert after_large is not None
        assert after_large.seq == after_small.seq + len(large)
        rows = await _rows(db, head.seq if head else 0)
        assert [r[0] for r in rows] == list(range(rows[0][0], rows[0][0] + len(small + large)))
        assert [r[1:4] for r in rows] == [
            (r.draft.actor, r.draft.subject, r.draft.ref) for r in small + large
        ]
        assert {r[4] for r in rows} == {'{"key_id": "3f1c7a52-5d0e-4c1e-9f3c-2a7d8e6b1c90"}'}
        assert {r[5] for r in rows[len(small) :]} == {large[0].at}
        report = await audit_use_cases.verify(ctx)
        assert report.ok, report.problem
        assert report.head == after_large
    finally:
        await writer.close()


async def test_a_copied_batch_behind_a_moved_head_is_chained_again_after_the_moved_head(
    pg: tuple[Database, VaultContext], member: str
) -> None:
    db, ctx = pg
    writer = PgAuditBatches(lambda: db)
    try:
        stale = await audit_use_cases.head(ctx)
        moved = await audit_now(ctx, AuditDraft("vault", "key.rotate", Outcome.ALLOWED))
        large = _requests(COPY_FROM * 2, member)
        links, head = await writer.write(large, stale, trusted=True)
        seqs = [link.seq for link in links if link is not None]
        assert seqs == [moved.seq + 1 + i for i in range(len(large))]
        assert head is not None
        assert head.seq == moved.seq + len(large)
        rows = await _rows(db, moved.seq)
        assert len(rows) == len(large)
        report = await audit_use_cases.verify(ctx)
        assert report.ok, report.problem
        assert report.head == head
    finally:
        await writer.close()


async def test_a_copied_batch_whose_commit_fails_leaves_no_row_and_the_head_where_it_was(
    pg: tuple[Database, VaultContext], member: str
) -> None:
    db, ctx = pg
    await db.pool.execute(f"""
        CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.subject = '{member}-1' THEN RAISE EXCEPTION 'no space left on device'; END IF;
          RETURN NULL;
        END $$;
        CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON audit_log
          DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit();
    """)  # fmt: skip
    writer = PgAuditBatches(lambda: db)
    try:
        head = await audit_use_cases.head(ctx)
        with pytest.raises(asyncpg.PostgresError):
            await writer.write(_requests(COPY_FROM * 2, member), head, trusted=True)
        assert await _rows(db, head.seq if head else 0) == []
        assert await audit_use_cases.head(ctx) == head
        await db.pool.execute("DROP TRIGGER refuse_commit ON audit_log")
        _, written = await writer.write(_requests(COPY_FROM, f"{member}-ok"), head, trusted=True)
        report = await audit_use_cases.verify(ctx)
        assert report.ok, report.problem
        assert report.head == written
    finally:
        await writer.close()


async def test_a_replica_without_the_lease_writes_behind_the_fence_and_leaves_moved_subjects_out(
    pg: tuple[Database, VaultContext], member: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, ctx = pg
    leader, standby = PgAuditBatches(lambda: db), PgAuditBatches(lambda: db)

    async def no_lock(requests: object) -> object:
        raise AssertionError("the standby took the head's lock")

    monkeypatch.setattr(standby, "_locked", no_lock)
    try:
        head = await audit_use_cases.head(ctx)
        _, leader_head = await leader.write(_requests(5, member), head, trusted=True)
        assert leader.leading
        async with db.pool.acquire() as conn, conn.transaction():  # an erasure moves a subject
            await conn.execute(
                "INSERT INTO subject_epochs (subject, epoch) VALUES ($1, 1)", f"{member}-1"
            )
            moved = await PgAuditLog(conn).append(
                AuditDraft("vault", "subject.erase", Outcome.ALLOWED, f"{member}-1"),
                datetime.now(UTC),
            )
        requests = _requests(6, member, epoch=0)
        links, standby_head = await standby.write(requests, None, trusted=False)
        assert not standby.leading
        assert [link is None for link in links] == [False, True, False] * 2
        assert [link.seq for link in links if link] == [moved.seq + i for i in range(1, 5)]
        assert standby_head is not None
        assert standby_head.seq == moved.seq + 4
        links, last = await leader.write(_requests(3, f"{member}-late"), leader_head, trusted=True)
        assert [link.seq for link in links if link] == [standby_head.seq + i for i in (1, 2, 3)]
        report = await audit_use_cases.verify(ctx)
        assert report.ok, report.problem
        assert report.head == last
    finally:
        await standby.close()
        await leader.close()
