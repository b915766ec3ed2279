from __future__ import annotations

import pytest
from vault.domain import crypto
from vault.domain.document_keys import WrappedDocumentKey
from vault.domain.errors import CiphertextRejected

pytestmark = pytest.mark.unit

KEY = bytes(range(32))


def test_aad_is_subject_purpose_secret_id_and_key_version() -> None:
    assert crypto.secret_aad("u1", "psd2-consent", "c1", 3) == b"u1|psd2-consent|c1|3"


def test_ciphertext_opens_only_with_its_own_record_identity() -> None:
    blob = crypto.seal(KEY, b"token", crypto.secret_aad("u1", "psd2-consent", "c1", 1))
    assert (
        crypto.open_sealed(KEY, blob, crypto.secret_aad("u1", "psd2-consent", "c1", 1)) == b"token"
    )
    for other in [
        ("u2", "psd2-consent", "c1", 1),
        ("u1", "bank-credentials", "c1", 1),
        ("u1", "psd2-consent", "c2", 1),
        ("u1", "psd2-consent", "c1", 2),
    ]:
        with pytest.raises(CiphertextRejected):
            crypto.open_sealed(KEY, blob, crypto.secret_aad(*other))


def test_every_flipped_bit_is_detected() -> None:
    aad = b"a|b|c|1"
    blob = crypto.seal(KEY, b"value", aad)
    for i in range(len(blob)):
        tampered = bytearray(blob)
        tampered[i] ^= 0x01
        with pytest.raises(CiphertextRejected):
            crypto.open_sealed(KEY, bytes(tampered), aad)


def test_truncated_envelope_is_rejected() -> None:
    with pytest.raises(CiphertextRejected):
        crypto.open_sealed(KEY, b"short", b"")


def test_each_seal_uses_a_fresh_nonce() -> None:
    nonces = {crypto.seal(KEY, b"same", b"")[:12] for _ in range(200)}
    assert len(nonces) == 200


def test_document_key_token_round_trips_and_rejects_garbage() -> None:
    token = WrappedDocumentKey(
        "6f1c2d4e-0000-4000-8000-000000000001", 7, "6f1c2d4e-0000-4000-8000-000000000002", b"e" * 60
    )
    raw = token.to_bytes()
    assert WrappedDocumentKey.parse(raw) == token
    with pytest.raises(CiphertextRejected):
        WrappedDocumentKey.parse(raw[:-1])
    with pytest.raises(CiphertextRejected):
        WrappedDocumentKey.parse(b"\x02" + raw[1:])
