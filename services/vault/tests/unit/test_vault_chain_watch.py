"""The periodic chain check: incremental from the last verified head, yet it catches an edit,
a deletion or a cut-off tail, and its result is the chain gauge."""

from __future__ import annotations

from dataclasses import replace

import pytest
from coffre_testing.metrics import sample
from common.metrics import configure_metrics, prometheus_text
from vault.adapters.memory import MemoryStore
from vault.domain.audit import Head, ProblemKind
from vault.service.chain_watch import ChainWatch, verify_after
from vault.service.context import VaultContext
from vault.service.secrets import SecretRef, SecretValue, put_secret
from vault_unit_helpers import AGGREGATION

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def _write(ctx: VaultContext, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ref = SecretRef(f"member-{i}", "psd2-consent", "c1")
        await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=b"token"))


def _gauge() -> float:
    return sample(prometheus_text().decode(), "coffre_vault_audit_chain_intact")


async def test_later_checks_walk_only_the_rows_written_since(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _write(ctx, 3)
    watch = ChainWatch(ctx)
    assert (await watch.check()).checked == 3
    await _write(ctx, 2, start=3)
    report = await watch.check()
    assert report.ok
    assert report.checked == 2
    assert watch.verified == Head(store.state.audit[-1].seq, store.state.audit[-1].hash)


async def test_a_tampered_new_row_sets_the_gauge_to_zero_until_the_log_verifies(
    ctx: VaultContext, store: MemoryStore
) -> None:
    configure_metrics("vault-unit")
    await _write(ctx, 3)
    watch = ChainWatch(ctx)
    await watch.check()
    assert _gauge() == 1
    await _write(ctx, 2, start=3)
    original = store.state.audit[4]
    store.state.audit[4] = replace(original, actor="payments")
    report = await watch.check()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (5, ProblemKind.EDITED)
    assert _gauge() == 0
    assert not (await watch.check()).ok  # still broken at the next tick
    store.state.audit[4] = original
    assert (await watch.check()).ok
    assert _gauge() == 1


async def test_the_row_of_the_verified_head_must_be_unchanged(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _write(ctx, 3)
    watch = ChainWatch(ctx)
    await watch.check()
    store.state.audit[2] = replace(store.state.audit[2], actor="payments")
    report = await watch.check()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (3, ProblemKind.EDITED)


async def test_a_cut_off_tail_behind_the_verified_head_is_caught(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _write(ctx, 4)
    watch = ChainWatch(ctx)
    await watch.check()
    del store.state.audit[2:]
    report = await watch.check()
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, ProblemKind.MISSING)


async def test_the_first_check_starts_at_the_anchor_whose_row_must_match(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _write(ctx, 4)
    anchor = Head(store.state.audit[1].seq, store.state.audit[1].hash)
    assert (await verify_after(ctx, anchor, anchor)).checked == 2
    forged = Head(anchor.seq, "ab" * 32)
    report = await verify_after(ctx, forged, forged)
    assert report.problem is not None
    assert report.problem.kind is ProblemKind.HEAD_MISMATCH


async def test_a_full_walk_when_due_catches_an_edit_to_an_old_row(
    ctx: VaultContext, store: MemoryStore
) -> None:
    ticks = iter([0.0, 10.0, 100.0])
    await _write(ctx, 4)
    watch = ChainWatch(ctx, full_every_seconds=50, monotonic=lambda: next(ticks))
    await watch.check()  # t=10: incremental (from the first entry: nothing verified yet)
    store.state.audit[0] = replace(store.state.audit[0], actor="payments")
    report = await watch.check()  # t=100: the full walk is due
    assert report.problem is not None
    assert report.problem.seq == 1
