from __future__ import annotations

from dataclasses import replace

import pytest
from common.events.vault import MasterKeyRetired, RotationProgressed
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.domain import crypto
from vault.domain.keys import DataKey, MasterKeyState
from vault.domain.rotation import Progress
from vault.service import rotation
from vault.service.context import VaultContext
from vault.service.datakeys import generate_data_key, unwrap_data_key
from vault.service.erasure import erase_subject
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault_unit_helpers import AGGREGATION, ARCHIVE, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def _members(ctx: VaultContext, n: int) -> list[SecretRef]:
    refs = [SecretRef(f"member-{i}", "psd2-consent", "c1") for i in range(n)]
    for i, ref in enumerate(refs):
        await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=f"token-{i}".encode()))
    return refs


async def test_rotation_rewraps_every_data_key_and_never_the_data(
    ctx: VaultContext, store: MemoryStore
) -> None:
    refs = await _members(ctx, 7)
    before = {k: r.ciphertext for k, r in store.state.secrets.items()}
    done = await rotation.rotate(ctx, batch_size=3)
    assert done.rewrapped == 7
    assert not done.running
    assert {k.master_version for k in store.state.data_keys.values()} == {2}
    assert {k: r.ciphertext for k, r in store.state.secrets.items()} == before
    for i, ref in enumerate(refs):
        assert await read_secret(ctx, PAYMENTS, ref) == f"token-{i}".encode()


async def test_old_master_version_is_retired_when_unused(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _members(ctx, 3)
    await rotation.rotate(ctx, batch_size=2)
    old, new = store.state.masters[1], store.state.masters[2]
    assert old.state is MasterKeyState.RETIRED
    assert old.wrapped is None
    assert new.state is MasterKeyState.ACTIVE
    retired = [e for e, _ in store.state.outbox if isinstance(e, MasterKeyRetired)]
    assert [e.version for e in retired] == [1]


async def test_progress_is_reported_per_batch_as_callbacks_and_events(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _members(ctx, 5)
    seen: list[Progress] = []
    await rotation.rotate(ctx, batch_size=2, on_progress=seen.append)
    assert [(p.rewrapped, p.total, p.done) for p in seen] == [
        (0, 5, False),
        (2, 5, False),
        (4, 5, False),
        (5, 5, False),
        (5, 5, True),
    ]
    events = [e for e, _ in store.state.outbox if isinstance(e, RotationProgressed)]
    assert [(e.rewrapped, e.done) for e in events] == [
        (2, False),
        (4, False),
        (5, False),
        (5, True),
    ]


async def test_rotation_resumes_after_a_crash_without_rewrapping_twice(
    store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    ctx = build_context(store.uow, kms, clock=clock)
    refs = await _members(ctx, 6)
    partial = await rotation.rotate(ctx, batch_size=2, max_batches=1)
    assert partial.running
    assert partial.rewrapped == 2
    restarted = build_context(store.uow, kms, clock=clock)
    seen: list[Progress] = []
    done = await rotation.rotate(restarted, batch_size=2, on_progress=seen.append)
    assert done.rotation_id == partial.rotation_id
    assert done.rewrapped == 6
    assert seen[0].rewrapped == 2
    assert seen[0].total == 6
    assert sorted(store.state.masters) == [1, 2]
    for ref in refs:
        await read_secret(restarted, PAYMENTS, ref)


async def test_a_batch_that_fails_midway_leaves_no_half_written_state(
    ctx: VaultContext, store: MemoryStore, kms: FakeKms, clock: ManualClock
) -> None:
    await _members(ctx, 4)
    started = await rotation.start_or_resume(ctx)
    fresh = build_context(store.uow, kms, clock=clock)
    kms.fail = True
    with pytest.raises(Exception, match="key management"):
        await rotation.run_batch(fresh, started, 10)
    assert {k.master_version for k in store.state.data_keys.values()} == {1}
    kms.fail = False
    assert (await rotation.rotate(fresh, batch_size=10)).rewrapped == 4


async def test_keys_created_during_a_rotation_are_already_under_the_new_version(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _members(ctx, 2)
    await rotation.rotate(ctx, batch_size=1, max_batches=1)
    late = await put_secret(
        ctx, AGGREGATION, SecretRef("late", "psd2-consent", "c1"), SecretValue(plaintext=b"t")
    )
    assert store.state.data_keys[late.key_id].master_version == 2
    done = await rotation.rotate(ctx, batch_size=1)
    assert done.rewrapped == 2


async def test_erased_keys_are_skipped_and_do_not_block_retirement(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await _members(ctx, 3)
    await erase_subject(ctx, "member-1", "req")
    done = await rotation.rotate(ctx, batch_size=10)
    assert done.rewrapped == 2
    assert store.state.masters[1].state is MasterKeyState.RETIRED
    erased = [k for k in store.state.data_keys.values() if k.subject == "member-1"]
    assert all(k.wrapped is None for k in erased)


async def test_document_keys_survive_two_rotations(ctx: VaultContext) -> None:
    generated = await generate_data_key(ctx, ARCHIVE, "member-1", "document")
    await rotation.rotate(ctx)
    await rotation.rotate(ctx)
    unwrapped = await unwrap_data_key(ctx, ARCHIVE, "member-1", "document", generated.wrapped)
    assert unwrapped.plaintext == generated.plaintext


async def test_rotation_of_an_empty_vault_creates_and_retires(
    ctx: VaultContext, store: MemoryStore
) -> None:
    done = await rotation.rotate(ctx)
    assert done.rewrapped == 0
    assert store.state.masters[2].state is MasterKeyState.ACTIVE
    assert store.state.masters[1].state is MasterKeyState.RETIRED


async def test_every_rotation_step_is_audited(ctx: VaultContext, store: MemoryStore) -> None:
    await _members(ctx, 3)
    await rotation.rotate(ctx, batch_size=2)
    actions = [e.action for e in store.state.audit if e.action.startswith("rotation")]
    assert actions == ["rotation.start", "rotation.batch", "rotation.batch", "rotation.finish"]


async def test_a_key_wrapped_under_the_old_version_behind_the_cursor_is_still_rewrapped(
    ctx: VaultContext, store: MemoryStore
) -> None:
    """A write that read the old active version just before the rotation started may commit a
    key under it after the cursor has passed its id; the rotation must still finish."""
    refs = await _members(ctx, 4)
    partial = await rotation.rotate(ctx, batch_size=4, max_batches=1)
    assert partial.cursor is not None
    old = next(iter(store.state.data_keys.values()))
    straggler = DataKey(
        "00000000-0000-4000-8000-000000000000", "straggler", 1, 1, None, old.created_at
    )
    master_v1 = await ctx.keyring.master_plaintext(store.uow(), 1)
    plaintext = crypto.new_key()
    wrapped = crypto.seal(
        master_v1, plaintext, crypto.data_key_aad("straggler", straggler.key_id, 1, 1)
    )
    store.state.data_keys[straggler.key_id] = replace(straggler, wrapped=wrapped)
    done = await rotation.rotate(ctx, batch_size=4)
    assert not done.running
    assert store.state.data_keys[straggler.key_id].master_version == 2
    assert store.state.masters[1].state is MasterKeyState.RETIRED
    for ref in refs:
        await read_secret(ctx, PAYMENTS, ref)
