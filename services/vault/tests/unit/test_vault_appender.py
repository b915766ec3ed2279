"""The group-commit appender and the cached subject state, over the in-memory store."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.domain.audit import AuditDraft, AuditRequest, Head, Link, Outcome, verify_chain
from vault.domain.errors import AuditUnavailable, Erased
from vault.service.appender import StaleSubject, UowAuditBatches
from vault.service.context import VaultContext
from vault.service.datakeys import UnwrapItem, generate_data_key, unwrap_data_key, unwrap_many
from vault.service.erasure import erase_subject
from vault_unit_helpers import ARCHIVE

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_concurrent_unwraps_share_commits_and_keep_one_chain(
    ctx: VaultContext, store: MemoryStore
) -> None:
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    before = store.commits
    keys = await asyncio.gather(
        *(unwrap_data_key(ctx, ARCHIVE, "member-1", "document", made.wrapped) for _ in range(50))
    )
    assert {k.plaintext for k in keys} == {made.plaintext}
    assert store.commits - before < 10
    assert len(store.state.audit) == 51
    assert verify_chain(store.state.audit).ok


async def test_an_answer_decided_on_a_moved_epoch_is_not_written(
    ctx: VaultContext, store: MemoryStore
) -> None:
    draft = AuditDraft("archive", "datakey.unwrap", Outcome.ALLOWED, subject="member-1")
    async with store.uow() as uow:
        await uow.subject_epochs.bump("member-1")
        await uow.commit()
    with pytest.raises(StaleSubject):
        await ctx.appender.append(draft, subject_epoch=("member-1", 0))
    entry = await ctx.appender.append(draft, subject_epoch=("member-1", 1))
    assert [e.seq for e in store.state.audit] == [entry.seq] == [1]


async def test_erasure_by_another_replica_refuses_unwraps_served_from_this_ones_cache(
    ctx: VaultContext, store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    other_replica = build_context(store.uow, kms, clock=clock)
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", made.wrapped)
    assert ctx.subjects.get("member-1") is not None
    await erase_subject(other_replica, "member-1", "req-1")
    with pytest.raises(Erased):
        await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", made.wrapped)
    last = store.state.audit[-1]
    assert (last.action, last.outcome, last.detail) == (
        "datakey.unwrap",
        Outcome.FAILED,
        {"error": "vault.subject-erased"},
    )


async def test_batch_unwrap_answers_every_item_in_order(ctx: VaultContext) -> None:
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    items = [
        UnwrapItem("member-1", "document", made.wrapped),
        UnwrapItem("member-2", "document", made.wrapped),
        UnwrapItem("member-1", "document", b"not a token"),
    ]
    results = await unwrap_many(ctx, ARCHIVE, items)
    assert not isinstance(results[0], Exception)
    assert results[0].plaintext == made.plaintext
    assert [getattr(r, "code", None) for r in results[1:]] == [
        "vault.ciphertext-invalid",
        "vault.ciphertext-invalid",
    ]


async def test_closing_answers_every_caller_already_queued(
    ctx: VaultContext, store: MemoryStore
) -> None:
    draft = AuditDraft("archive", "datakey.unwrap", Outcome.ALLOWED, subject="member-1")
    futures = [ctx.appender.submit([draft] * n, [None] * n) for n in (2, 1, 2)]
    await ctx.appender.close()
    seqs = [[e.seq for e in f.result() if e is not None] for f in futures]
    assert seqs == [[1, 2], [3], [4, 5]]
    assert len(store.state.audit) == 5


class _CommitFailsOnce(UowAuditBatches):
    """Writes the batch, then fails as a commit that never became durable would."""

    failures = 1

    async def write(
        self, requests: Sequence[AuditRequest], head: Head | None, trusted: bool
    ) -> tuple[list[Link | None], Head | None]:
        if self.failures:
            self.failures -= 1
            raise OSError("connection lost during COMMIT")
        return await super().write(requests, head, trusted)


async def test_no_key_leaves_when_its_audit_commit_fails(
    store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    ctx = build_context(store.uow, kms, clock=clock, audit_batches=_CommitFailsOnce(store.uow))
    made = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    items = [UnwrapItem("member-1", "document", made.wrapped)] * 3
    with pytest.raises(AuditUnavailable):
        await unwrap_many(ctx, ARCHIVE, items)
    assert [e.action for e in store.state.audit] == ["datakey.generate"]
    again = await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", made.wrapped)
    assert again.plaintext == made.plaintext
    assert len(store.state.audit) == 2
    assert verify_chain(store.state.audit).ok
    await ctx.appender.close()
