from __future__ import annotations

import pytest
from common.events.erasure import ErasureCompleted
from vault.adapters.memory import MemoryGrants, MemoryStore
from vault.domain.audit import verify_chain
from vault.domain.errors import Erased
from vault.domain.grants import Grant
from vault.service.context import VaultContext
from vault.service.erasure import erase_subject
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault_unit_helpers import AGGREGATION, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

CONSENT = SecretRef("member-1", "psd2-consent", "consent-1")


async def test_reads_after_erasure_fail_with_erased(ctx: VaultContext) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    await erase_subject(ctx, "member-1", "req-1")
    with pytest.raises(Erased) as err:
        await read_secret(ctx, PAYMENTS, CONSENT)
    assert (err.value.status, err.value.code) == (410, "vault.subject-erased")


async def test_writes_after_erasure_fail_with_erased(ctx: VaultContext) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    await erase_subject(ctx, "member-1", "req-1")
    with pytest.raises(Erased):
        await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"again"))


async def test_erasure_destroys_key_bytes_but_keeps_their_ids(
    ctx: VaultContext, store: MemoryStore
) -> None:
    stored = await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    proof = await erase_subject(ctx, "member-1", "req-1")
    key = store.state.data_keys[stored.key_id]
    assert key.wrapped is None
    assert key.destroyed_at == proof.erased_at
    assert proof.destroyed_key_ids == [stored.key_id]
    assert proof.secrets_deleted == 1
    assert store.state.secrets == {}
    assert len(ctx.keyring.cache) == 0


async def test_erasure_leaves_other_members_readable(ctx: VaultContext) -> None:
    other = SecretRef("member-2", "psd2-consent", "consent-1")
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token-1"))
    await put_secret(ctx, AGGREGATION, other, SecretValue(plaintext=b"token-2"))
    await erase_subject(ctx, "member-1", "req-1")
    assert await read_secret(ctx, PAYMENTS, other) == b"token-2"


async def test_proof_points_at_the_erasure_entry_of_the_audit_chain(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    proof = await erase_subject(ctx, "member-1", "req-1")
    entry = store.state.audit[proof.audit_seq - 1]
    assert (entry.action, entry.hash, entry.ref) == ("erasure", proof.audit_hash, "req-1")
    assert entry.detail["destroyed_key_ids"] == proof.destroyed_key_ids
    assert verify_chain(store.state.audit).ok


async def test_erasure_completed_is_written_to_the_outbox_with_the_proof(
    ctx: VaultContext, store: MemoryStore
) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    proof = await erase_subject(ctx, "member-1", "req-1")
    [(event, subject)] = store.state.outbox
    assert isinstance(event, ErasureCompleted)
    assert subject == "member-1"
    assert event.service == "vault"
    assert event.request_id == "req-1"
    assert event.proof["destroyed_key_ids"] == proof.destroyed_key_ids
    assert event.proof["audit_seq"] == proof.audit_seq
    assert event.proof["audit_hash"] == proof.audit_hash


async def test_a_member_never_seen_gets_a_tombstone(ctx: VaultContext) -> None:
    proof = await erase_subject(ctx, "member-9", "req-9")
    assert len(proof.destroyed_key_ids) == 1
    with pytest.raises(Erased):
        await put_secret(
            ctx,
            AGGREGATION,
            SecretRef("member-9", "psd2-consent", "c"),
            SecretValue(plaintext=b"t"),
        )


async def test_erasing_twice_gives_the_same_key_ids(ctx: VaultContext) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    first = await erase_subject(ctx, "member-1", "req-1")
    second = await erase_subject(ctx, "member-1", "req-1")
    assert first.destroyed_key_ids == second.destroyed_key_ids
    assert second.audit_seq > first.audit_seq


async def test_a_key_cached_again_while_the_erasure_ran_is_evicted_at_its_commit(
    ctx: VaultContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read overlapping the erasure may cache the subject's key again after the erasure evicted
    it and before it committed; the commit evicts it once more (no key material lingers)."""
    stored = await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"token"))
    ending_grants = MemoryGrants.open_for_subject

    async def cached_again_meanwhile(self: MemoryGrants, subject: str) -> list[Grant]:
        ctx.keyring.cache.put(stored.key_id, b"k" * 32)  # as the overlapping read would
        return await ending_grants(self, subject)

    monkeypatch.setattr(MemoryGrants, "open_for_subject", cached_again_meanwhile)
    await erase_subject(ctx, "member-1", "req-1")
    assert len(ctx.keyring.cache) == 0
