"""The client-side sealing helper (common.security.client_encryption) and its wire format."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from common.security import client_encryption as ce
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

pytestmark = pytest.mark.unit

X_PRIVATE = x25519.X25519PrivateKey.generate()
RSA_PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)
X_RECIPIENT = ce.RecipientKey("seal-x25519-1", X_PRIVATE.public_key())
RSA_RECIPIENT = ce.RecipientKey("seal-rsa-1", RSA_PRIVATE.public_key())
PAIRS = [(X_RECIPIENT, X_PRIVATE), (RSA_RECIPIENT, RSA_PRIVATE)]
IDS = ["hpke-x25519", "rsa-oaep-256"]
WHO = {"subject": "member-1", "purpose": "bank-credentials"}


@pytest.mark.parametrize(("recipient", "private"), PAIRS, ids=IDS)
def test_sealed_value_opens_with_the_private_key(
    recipient: ce.RecipientKey, private: ce.PrivateKey
) -> None:
    sealed = ce.seal(b"user:pass", recipient, **WHO)
    assert b"user:pass" not in sealed
    assert ce.open_sealed(sealed, private, **WHO) == b"user:pass"


@pytest.mark.parametrize(("recipient", "private"), PAIRS, ids=IDS)
def test_sealing_twice_gives_different_envelopes(
    recipient: ce.RecipientKey, private: ce.PrivateKey
) -> None:
    assert ce.seal(b"same", recipient, **WHO) != ce.seal(b"same", recipient, **WHO)


@pytest.mark.parametrize(("recipient", "private"), PAIRS, ids=IDS)
@pytest.mark.parametrize("other", [{"subject": "member-2"}, {"purpose": "psd2-consent"}])
def test_value_sealed_for_one_member_and_purpose_does_not_open_for_another(
    recipient: ce.RecipientKey, private: ce.PrivateKey, other: dict[str, str]
) -> None:
    sealed = ce.seal(b"user:pass", recipient, **WHO)
    with pytest.raises(ce.SealRejected):
        ce.open_sealed(sealed, private, **(WHO | other))


@pytest.mark.parametrize(("recipient", "private"), PAIRS, ids=IDS)
def test_any_tampered_byte_is_rejected(recipient: ce.RecipientKey, private: ce.PrivateKey) -> None:
    sealed = ce.seal(b"user:pass", recipient, **WHO)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        with pytest.raises(ce.SealRejected):
            ce.open_sealed(bytes(tampered), private, **WHO)


def test_wrong_private_key_or_key_type_is_rejected() -> None:
    sealed = ce.seal(b"x", X_RECIPIENT, **WHO)
    with pytest.raises(ce.SealRejected):
        ce.open_sealed(sealed, x25519.X25519PrivateKey.generate(), **WHO)
    with pytest.raises(ce.SealRejected):
        ce.open_sealed(sealed, RSA_PRIVATE, **WHO)


@pytest.mark.parametrize(
    "junk", [b"", b"\x01", b"\x01\x01\x00", b"\x02\x01\x01a", b"\x01\x09\x01ab"]
)
def test_malformed_envelopes_are_rejected(junk: bytes) -> None:
    with pytest.raises(ce.SealRejected) as err:
        ce.open_sealed(junk, X_PRIVATE, **WHO)
    assert err.value.status == 422
    assert err.value.code == "seal.invalid"


def test_oversized_values_and_separator_in_context_are_refused() -> None:
    with pytest.raises(ce.SealRejected):
        ce.seal(b"x" * (ce.MAX_PLAINTEXT_BYTES + 1), X_RECIPIENT, **WHO)
    with pytest.raises(ce.SealRejected):
        ce.seal(b"x", X_RECIPIENT, subject="a|b", purpose="bank-credentials")


@pytest.mark.parametrize(("recipient", "private"), PAIRS, ids=IDS)
def test_public_key_round_trips_through_jwk(
    recipient: ce.RecipientKey, private: ce.PrivateKey
) -> None:
    jwk = recipient.to_jwk()
    assert jwk["kid"] == recipient.kid
    assert jwk["use"] == "enc"
    again = ce.RecipientKey.from_jwk(jwk)
    assert ce.open_sealed(ce.seal(b"v", again, **WHO), private, **WHO) == b"v"


def test_bad_jwk_is_rejected() -> None:
    with pytest.raises(ce.SealRejected):
        ce.RecipientKey.from_jwk({"kty": "EC", "kid": "x"})
    with pytest.raises(ce.SealRejected):
        ce.RecipientKey.from_jwk({"kty": "OKP", "crv": "X25519", "kid": "x", "x": "AA"})


def test_base64url_helpers_have_no_padding() -> None:
    text = ce.seal_b64(b"v", X_RECIPIENT, **WHO)
    assert "=" not in text
    assert "+" not in text
    assert "/" not in text
    assert ce.open_sealed(ce.b64u_decode(text), X_PRIVATE, **WHO) == b"v"


# --- the documented wire format, checked with an independent implementation -----------------


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or b"\x00" * 32, b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def _rfc9180_open(envelope: bytes, private: x25519.X25519PrivateKey, info: bytes) -> bytes:
    """RFC 9180 base mode, single shot: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM."""
    kid_len = envelope[2]
    body = envelope[3 + kid_len :]
    enc, ct = body[:32], body[32:]
    kem_suite = b"KEM" + (0x0020).to_bytes(2, "big")
    dh = private.exchange(x25519.X25519PublicKey.from_public_bytes(enc))
    pk_r = private.public_key().public_bytes_raw()
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared = _labeled_expand(kem_suite, eae_prk, b"shared_secret", enc + pk_r, 32)
    suite = b"HPKE" + bytes([0x00, 0x20, 0x00, 0x01, 0x00, 0x02])
    context = (
        b"\x00"
        + _labeled_extract(suite, b"", b"psk_id_hash", b"")
        + _labeled_extract(suite, b"", b"info_hash", info)
    )
    secret = _labeled_extract(suite, shared, b"secret", b"")
    key = _labeled_expand(suite, secret, b"key", context, 32)
    nonce = _labeled_expand(suite, secret, b"base_nonce", context, 12)
    return AESGCM(key).decrypt(nonce, ct, b"")


def test_hpke_envelope_matches_the_documented_format_and_rfc_9180() -> None:
    sealed = ce.seal(b"user:pass", X_RECIPIENT, **WHO)
    kid = X_RECIPIENT.kid.encode()
    assert sealed[: 3 + len(kid)] == bytes([0x01, 0x01, len(kid)]) + kid
    assert len(sealed) == 3 + len(kid) + 32 + len(b"user:pass") + 16
    info = b"coffre-vault/seal/v1|seal-x25519-1|member-1|bank-credentials"
    assert ce.seal_info(X_RECIPIENT.kid, **WHO) == info
    assert _rfc9180_open(sealed, X_PRIVATE, info) == b"user:pass"


def test_rsa_envelope_matches_the_documented_format() -> None:
    sealed = ce.seal(b"user:pass", RSA_RECIPIENT, **WHO)
    kid = RSA_RECIPIENT.kid.encode()
    body = sealed[3 + len(kid) :]
    assert sealed[:3] == bytes([0x01, 0x02, len(kid)])
    size = int.from_bytes(body[:2], "big")
    assert size == 256
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    cek = RSA_PRIVATE.decrypt(body[2 : 2 + size], oaep)
    nonce, ct = body[2 + size : 2 + size + 12], body[2 + size + 12 :]
    info = b"coffre-vault/seal/v1|seal-rsa-1|member-1|bank-credentials"
    assert AESGCM(cek).decrypt(nonce, ct, info) == b"user:pass"


def test_an_envelope_built_by_hand_opens_in_the_helper() -> None:
    """What a mobile developer writes from the README (RSA path) is what the vault opens."""
    import os

    cek, nonce = os.urandom(32), os.urandom(12)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    wrapped = RSA_PRIVATE.public_key().encrypt(cek, oaep)
    info = b"coffre-vault/seal/v1|seal-rsa-1|member-1|bank-credentials"
    kid = b"seal-rsa-1"
    envelope = (
        bytes([1, 2, len(kid)])
        + kid
        + len(wrapped).to_bytes(2, "big")
        + wrapped
        + nonce
        + AESGCM(cek).encrypt(nonce, b"by-hand", info)
    )
    assert ce.open_sealed(envelope, RSA_PRIVATE, **WHO) == b"by-hand"
