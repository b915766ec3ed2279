"""A held erasure: everything is shredded at once but the consent tokens, which only each
consent's owner (aggregation for account access, payments for payment consents) may still read
and delete, to end the consents at the bank; deleting the last one, or the deadline, completes
the erasure."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from common.events.erasure import ErasureCompleted
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.domain.audit import verify_chain
from vault.domain.errors import Erased, SecretNotFound
from vault.service.context import VaultContext
from vault.service.datakeys import generate_data_key, unwrap_data_key
from vault.service.erasure import erase_subject, release_due_holds
from vault.service.secrets import (
    SecretRef,
    SecretValue,
    delete_secret,
    put_secret,
    read_secret,
)
from vault_unit_helpers import AGGREGATION, ARCHIVE, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

MEMBER = "member-1"
CONSENT_1 = SecretRef(MEMBER, "psd2-consent", "consent-1")
CONSENT_2 = SecretRef(MEMBER, "psd2-consent", "consent-2")
PAYMENT_CONSENT = SecretRef(MEMBER, "psd2-payment-consent", "pay-consent-1")
HOLD = timedelta(hours=24)


@pytest.fixture
def held_ctx(store: MemoryStore, kms: FakeKms, clock: ManualClock) -> VaultContext:
    return build_context(store.uow, kms, clock=clock, erasure_hold=HOLD)


async def _member_with_everything(ctx: VaultContext) -> bytes:
    await put_secret(ctx, AGGREGATION, CONSENT_1, SecretValue(plaintext=b"token-1"))
    await put_secret(ctx, AGGREGATION, CONSENT_2, SecretValue(plaintext=b"token-2"))
    document = await generate_data_key(ctx, ARCHIVE, MEMBER, "document")
    return document.wrapped


def _completed(store: MemoryStore) -> list[ErasureCompleted]:
    return [e for e, _ in store.state.outbox if isinstance(e, ErasureCompleted)]


async def test_held_erasure_shreds_all_but_the_consent_tokens_at_once(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    wrapped = await _member_with_everything(held_ctx)
    original_key = next(iter(store.state.data_keys.values()))
    proof = await erase_subject(held_ctx, MEMBER, "req-1")
    assert proof.held_until is not None
    assert proof.destroyed_key_ids == [original_key.key_id]
    assert store.state.data_keys[original_key.key_id].wrapped is None
    with pytest.raises(Erased):
        await unwrap_data_key(held_ctx, ARCHIVE, MEMBER, "document", wrapped)
    escrow = {r.key_id for r in store.state.secrets.values()}
    assert escrow != {original_key.key_id}
    assert len(escrow) == 1
    assert _completed(store) == []


async def test_while_held_only_aggregation_reads_and_deletes_consent_tokens(
    held_ctx: VaultContext,
) -> None:
    await _member_with_everything(held_ctx)
    await erase_subject(held_ctx, MEMBER, "req-1")
    assert await read_secret(held_ctx, AGGREGATION, CONSENT_1) == b"token-1"
    with pytest.raises(Erased):
        await read_secret(held_ctx, PAYMENTS, CONSENT_1)
    with pytest.raises(Erased):
        await put_secret(held_ctx, AGGREGATION, CONSENT_1, SecretValue(plaintext=b"new"))
    with pytest.raises(Erased):
        await generate_data_key(held_ctx, ARCHIVE, MEMBER, "document")


async def test_deleting_the_last_consent_token_completes_the_erasure(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    await _member_with_everything(held_ctx)
    held = await erase_subject(held_ctx, MEMBER, "req-1")
    await delete_secret(held_ctx, AGGREGATION, CONSENT_1)
    assert _completed(store) == []
    await delete_secret(held_ctx, AGGREGATION, CONSENT_2)
    [completed] = _completed(store)
    assert (completed.service, completed.request_id) == ("vault", "req-1")
    assert completed.proof["released"] == "consents-revoked"
    assert set(held.destroyed_key_ids) < set(completed.proof["destroyed_key_ids"])
    assert all(k.destroyed for k in store.state.data_keys.values())
    assert store.state.holds == {}
    with pytest.raises(Erased):
        await read_secret(held_ctx, AGGREGATION, CONSENT_1)
    assert verify_chain(store.state.audit).ok


async def test_a_payment_consent_is_held_for_payments_whichever_service_hears_first(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    """The vault may erase before payments has revoked its payment consent at the bank: the
    consent id stays readable by payments alone until payments deletes it."""
    await _member_with_everything(held_ctx)
    await put_secret(held_ctx, PAYMENTS, PAYMENT_CONSENT, SecretValue(plaintext=b"pay-token"))
    await erase_subject(held_ctx, MEMBER, "req-1")
    assert await read_secret(held_ctx, PAYMENTS, PAYMENT_CONSENT) == b"pay-token"
    with pytest.raises(Erased):  # payments may read account consents, not delete them
        await read_secret(held_ctx, PAYMENTS, CONSENT_1)
    await delete_secret(held_ctx, AGGREGATION, CONSENT_1)
    await delete_secret(held_ctx, AGGREGATION, CONSENT_2)
    assert _completed(store) == [], "payments' consent still to be revoked"
    await delete_secret(held_ctx, PAYMENTS, PAYMENT_CONSENT)
    [completed] = _completed(store)
    assert completed.proof["released"] == "consents-revoked"
    assert store.state.secrets == {}
    assert verify_chain(store.state.audit).ok


async def test_a_hold_past_its_deadline_is_released_by_the_sweeper(
    held_ctx: VaultContext, store: MemoryStore, clock: ManualClock
) -> None:
    await _member_with_everything(held_ctx)
    await erase_subject(held_ctx, MEMBER, "req-1")
    assert await release_due_holds(held_ctx) == 0
    clock.advance(HOLD)
    assert await release_due_holds(held_ctx) == 1
    [completed] = _completed(store)
    assert completed.proof["released"] == "deadline"
    assert completed.proof["secrets_deleted"] == 2
    assert all(k.destroyed for k in store.state.data_keys.values())
    with pytest.raises(Erased):
        await read_secret(held_ctx, AGGREGATION, CONSENT_1)


async def test_a_second_request_while_held_keeps_the_hold(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    await _member_with_everything(held_ctx)
    first = await erase_subject(held_ctx, MEMBER, "req-1")
    second = await erase_subject(held_ctx, MEMBER, "req-2")
    assert second.held_until == first.held_until
    assert second.destroyed_key_ids == first.destroyed_key_ids
    assert await read_secret(held_ctx, AGGREGATION, CONSENT_2) == b"token-2"
    assert _completed(store) == []


async def test_a_member_without_consent_tokens_is_shredded_at_once(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    await generate_data_key(held_ctx, ARCHIVE, MEMBER, "document")
    proof = await erase_subject(held_ctx, MEMBER, "req-1")
    assert proof.held_until is None
    assert len(_completed(store)) == 1
    assert store.state.holds == {}


async def test_a_consent_token_that_no_longer_opens_is_shredded_not_held(
    held_ctx: VaultContext, store: MemoryStore
) -> None:
    await put_secret(held_ctx, AGGREGATION, CONSENT_1, SecretValue(plaintext=b"token-1"))
    record = store.state.secrets[(MEMBER, "psd2-consent", "consent-1")]
    tampered = record.ciphertext[:-1] + bytes([record.ciphertext[-1] ^ 1])
    store.state.secrets[(MEMBER, "psd2-consent", "consent-1")] = replace(
        record, ciphertext=tampered
    )
    proof = await erase_subject(held_ctx, MEMBER, "req-1")
    assert proof.held_until is None
    assert store.state.secrets == {}


async def test_hold_refusals_name_the_erasure_and_unknown_held_secrets_are_not_found(
    held_ctx: VaultContext,
) -> None:
    await _member_with_everything(held_ctx)
    await erase_subject(held_ctx, MEMBER, "req-1")
    with pytest.raises(SecretNotFound):
        await read_secret(held_ctx, AGGREGATION, SecretRef(MEMBER, "psd2-consent", "other"))
    with pytest.raises(Erased) as err:
        await read_secret(held_ctx, PAYMENTS, CONSENT_2)
    assert (err.value.status, err.value.code) == (410, "vault.subject-erased")
