from __future__ import annotations

from dataclasses import replace

import pytest
from common.security import client_encryption as ce
from vault.adapters.memory import MemoryStore
from vault.domain.audit import Outcome
from vault.domain.errors import (
    CiphertextRejected,
    InvalidInput,
    InvalidName,
    PolicyDenied,
    SealingKeyUnknown,
    SealRequired,
    SecretNotFound,
)
from vault.service import sealing
from vault.service.context import VaultContext
from vault.service.secrets import SecretRef, SecretValue, delete_secret, put_secret, read_secret
from vault_unit_helpers import AGGREGATION, FRAUD, PAYMENTS

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

CONSENT = SecretRef("member-1", "psd2-consent", "consent-1")
CREDS = SecretRef("member-1", "bank-credentials", "bank-1")
TOKEN = b"consent-token-value-1234567890"


async def test_consent_token_round_trips_for_aggregation_and_payments(ctx: VaultContext) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    assert await read_secret(ctx, AGGREGATION, CONSENT) == TOKEN
    assert await read_secret(ctx, PAYMENTS, CONSENT) == TOKEN


async def test_stored_secret_is_never_in_clear(ctx: VaultContext, store: MemoryStore) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    record = store.state.secrets[("member-1", "psd2-consent", "consent-1")]
    assert TOKEN not in record.ciphertext
    key = store.state.data_keys[record.key_id]
    assert key.wrapped is not None
    assert len(key.wrapped) == 12 + 32 + 16
    assert all(TOKEN.decode() not in repr(e) for e in store.state.audit)


async def test_payments_may_not_write_consent_and_refusal_is_audited(
    ctx: VaultContext, store: MemoryStore
) -> None:
    with pytest.raises(PolicyDenied):
        await put_secret(ctx, PAYMENTS, CONSENT, SecretValue(plaintext=TOKEN))
    entry = store.state.audit[-1]
    assert (entry.actor, entry.action, entry.outcome) == (
        "payments",
        "secret.write",
        Outcome.DENIED,
    )
    assert entry.detail == {"error": "vault.policy-denied"}
    assert store.state.secrets == {}


async def test_fraud_may_not_read_consent(ctx: VaultContext, store: MemoryStore) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    with pytest.raises(PolicyDenied):
        await read_secret(ctx, FRAUD, CONSENT)
    assert store.state.audit[-1].outcome is Outcome.DENIED


async def test_every_read_is_audited_with_its_key(ctx: VaultContext, store: MemoryStore) -> None:
    stored = await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    await read_secret(ctx, PAYMENTS, CONSENT)
    entry = store.state.audit[-1]
    assert (entry.actor, entry.action, entry.outcome) == (
        "payments",
        "secret.read",
        Outcome.ALLOWED,
    )
    assert (entry.subject, entry.purpose, entry.ref) == ("member-1", "psd2-consent", "consent-1")
    assert entry.detail["key_id"] == stored.key_id


async def test_ciphertext_moved_to_another_record_is_rejected(
    ctx: VaultContext, store: MemoryStore
) -> None:
    other = SecretRef("member-1", "psd2-consent", "consent-2")
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    await put_secret(ctx, AGGREGATION, other, SecretValue(plaintext=b"other"))
    a = store.state.secrets[("member-1", "psd2-consent", "consent-1")]
    b = store.state.secrets[("member-1", "psd2-consent", "consent-2")]
    store.state.secrets[("member-1", "psd2-consent", "consent-2")] = replace(
        b, ciphertext=a.ciphertext
    )
    with pytest.raises(CiphertextRejected) as err:
        await read_secret(ctx, AGGREGATION, other)
    assert err.value.status == 422
    assert store.state.audit[-1].detail == {"error": "vault.ciphertext-invalid"}


async def test_one_subject_key_serves_all_its_secrets(ctx: VaultContext) -> None:
    first = await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    second = await put_secret(
        ctx, AGGREGATION, SecretRef("member-1", "psd2-consent", "c9"), SecretValue(plaintext=b"x")
    )
    third = await put_secret(
        ctx, AGGREGATION, SecretRef("member-2", "psd2-consent", "c1"), SecretValue(plaintext=b"y")
    )
    assert first.key_id == second.key_id != third.key_id


async def test_overwrite_keeps_one_record(ctx: VaultContext, store: MemoryStore) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=b"renewed"))
    assert await read_secret(ctx, AGGREGATION, CONSENT) == b"renewed"
    assert len(store.state.secrets) == 1


async def test_unknown_secret_is_not_found(ctx: VaultContext) -> None:
    with pytest.raises(SecretNotFound) as err:
        await read_secret(ctx, AGGREGATION, CONSENT)
    assert err.value.status == 404


async def test_delete_removes_the_secret(ctx: VaultContext) -> None:
    await put_secret(ctx, AGGREGATION, CONSENT, SecretValue(plaintext=TOKEN))
    await delete_secret(ctx, AGGREGATION, CONSENT)
    with pytest.raises(SecretNotFound):
        await read_secret(ctx, AGGREGATION, CONSENT)
    with pytest.raises(SecretNotFound):
        await delete_secret(ctx, AGGREGATION, CONSENT)


@pytest.mark.parametrize(
    "ref",
    [
        SecretRef("member|1", "psd2-consent", "c1"),
        SecretRef("member-1", "PSD2", "c1"),
        SecretRef("member-1", "psd2-consent", ""),
        SecretRef("m" * 200, "psd2-consent", "c1"),
    ],
)
async def test_bad_names_are_refused(ctx: VaultContext, ref: SecretRef) -> None:
    with pytest.raises(InvalidName) as err:
        await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=TOKEN))
    assert err.value.status == 422


@pytest.mark.parametrize(
    "value",
    [
        SecretValue(),
        SecretValue(plaintext=b""),
        SecretValue(plaintext=b"x" * (16 * 1024 + 1)),
        SecretValue(plaintext=b"a", sealed=b"b"),
    ],
)
async def test_bad_values_are_refused(ctx: VaultContext, value: SecretValue) -> None:
    with pytest.raises(InvalidInput):
        await put_secret(ctx, AGGREGATION, CONSENT, value)


async def test_bank_credentials_in_clear_are_refused(ctx: VaultContext, store: MemoryStore) -> None:
    with pytest.raises(SealRequired):
        await put_secret(ctx, AGGREGATION, CREDS, SecretValue(plaintext=b"user:pass"))
    assert store.state.secrets == {}


async def _recipient(ctx: VaultContext, alg: ce.Alg) -> ce.RecipientKey:
    keys = await sealing.ensure_keys(ctx)
    return sealing.recipient(next(k for k in keys if k.alg is alg))


@pytest.mark.parametrize("alg", list(ce.Alg))
async def test_sealed_credentials_are_stored_but_aggregation_cannot_read_them(
    ctx: VaultContext, alg: ce.Alg
) -> None:
    recipient = await _recipient(ctx, alg)
    sealed = ce.seal(b"user:pass", recipient, subject="member-1", purpose="bank-credentials")
    await put_secret(ctx, AGGREGATION, CREDS, SecretValue(sealed=sealed))
    with pytest.raises(PolicyDenied):
        await read_secret(ctx, AGGREGATION, CREDS)


async def test_credentials_sealed_for_another_member_are_rejected(ctx: VaultContext) -> None:
    recipient = await _recipient(ctx, ce.Alg.HPKE_X25519)
    sealed = ce.seal(b"user:pass", recipient, subject="member-2", purpose="bank-credentials")
    with pytest.raises(CiphertextRejected):
        await put_secret(ctx, AGGREGATION, CREDS, SecretValue(sealed=sealed))


async def test_credentials_sealed_with_an_unknown_key_are_rejected(ctx: VaultContext) -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519

    rogue = ce.RecipientKey("seal-rogue", x25519.X25519PrivateKey.generate().public_key())
    sealed = ce.seal(b"user:pass", rogue, subject="member-1", purpose="bank-credentials")
    with pytest.raises(SealingKeyUnknown):
        await put_secret(ctx, AGGREGATION, CREDS, SecretValue(sealed=sealed))
    with pytest.raises(CiphertextRejected):
        await put_secret(ctx, AGGREGATION, CREDS, SecretValue(sealed=b"\x09garbage"))
