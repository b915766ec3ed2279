"""Client-side encryption ("sealing") of credentials for the vault.

A client (mobile app, web app, test) seals a member's bank credentials with the vault's public
key before they leave the device; only the vault, which holds the private key, can open them.
The wire format is documented for mobile developers in ``services/vault/README.md``.

Rules:
- Two algorithms: ``HPKE-Base-X25519-SHA256-A256GCM`` (RFC 9180 base mode, single shot:
  DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) is preferred; ``RSA-OAEP-256+A256GCM``
  (a random AES-256 key wrapped with RSA-OAEP/SHA-256, the value sealed with AES-256-GCM) is for
  platforms without HPKE.
- Every seal is bound to ``info = "coffre-vault/seal/v1|<kid>|<subject>|<purpose>"`` (HPKE info,
  or the AES-GCM associated data for RSA): a value sealed for one member and purpose does not
  open for another.
- Envelope: ``0x01 | alg (1) | kid length (1) | kid | body`` where the body is ``enc || ct`` for
  HPKE and ``len(wrapped key) (2, big-endian) | wrapped key | nonce (12) | ct`` for RSA; ``ct``
  ends with the 16-byte GCM tag. On the wire (JSON) the envelope is base64url without padding.
- Any malformed, tampered or mis-addressed envelope raises ``SealRejected``, which says nothing
  about the content.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from common.errors import ValidationFailed

FORMAT_VERSION = 0x01
INFO_PREFIX = "coffre-vault/seal/v1"
MAX_PLAINTEXT_BYTES = 64 * 1024
HPKE_ENC_BYTES = 32
NONCE_BYTES = 12
_KID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_FIELD = re.compile(r"^[^|\x00-\x1f]{1,128}$")
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)

PrivateKey = x25519.X25519PrivateKey | rsa.RSAPrivateKey
PublicKey = x25519.X25519PublicKey | rsa.RSAPublicKey


class SealRejected(ValidationFailed):
    code = "seal.invalid"
    title = "The sealed value is malformed, tampered with or not addressed to this recipient"


class Alg(IntEnum):
    HPKE_X25519 = 0x01
    RSA_OAEP_256 = 0x02

    @property
    def jwk_alg(self) -> str:
        return _JWK_ALG[self]


_JWK_ALG = {
    Alg.HPKE_X25519: "HPKE-Base-X25519-SHA256-A256GCM",
    Alg.RSA_OAEP_256: "RSA-OAEP-256+A256GCM",
}


@dataclass(frozen=True, slots=True)
class RecipientKey:
    """The vault's public sealing key, as a client receives it."""

    kid: str
    public_key: PublicKey

    def __post_init__(self) -> None:
        if not _KID.match(self.kid):
            raise ValueError("kid must be 1 to 64 characters of [A-Za-z0-9._-]")

    @property
    def alg(self) -> Alg:
        return (
            Alg.HPKE_X25519
            if isinstance(self.public_key, x25519.X25519PublicKey)
            else Alg.RSA_OAEP_256
        )

    def to_jwk(self) -> dict[str, str]:
        jwk = {"kid": self.kid, "use": "enc", "alg": self.alg.jwk_alg}
        if isinstance(self.public_key, x25519.X25519PublicKey):
            return jwk | {
                "kty": "OKP",
                "crv": "X25519",
                "x": b64u(self.public_key.public_bytes_raw()),
            }
        numbers = self.public_key.public_numbers()
        return jwk | {
            "kty": "RSA",
            "n": b64u(_int_bytes(numbers.n)),
            "e": b64u(_int_bytes(numbers.e)),
        }

    @classmethod
    def from_jwk(cls, jwk: dict[str, Any]) -> RecipientKey:
        try:
            if jwk["kty"] == "OKP" and jwk["crv"] == "X25519":
                key: PublicKey = x25519.X25519PublicKey.from_public_bytes(b64u_decode(jwk["x"]))
            elif jwk["kty"] == "RSA":
                n, e = (int.from_bytes(b64u_decode(jwk[f]), "big") for f in ("n", "e"))
                key = rsa.RSAPublicNumbers(e, n).public_key()
            else:
                raise ValueError("unsupported key type")
            return cls(kid=jwk["kid"], public_key=key)
        except (KeyError, ValueError, TypeError) as exc:
            raise SealRejected("the JWK is not a vault sealing key") from exc


@dataclass(frozen=True, slots=True)
class Envelope:
    alg: Alg
    kid: str
    body: bytes


def seal_info(kid: str, subject: str, purpose: str) -> bytes:
    for value in (subject, purpose):
        if not _FIELD.match(value):
            raise SealRejected("subject and purpose must be 1 to 128 characters without '|'")
    return f"{INFO_PREFIX}|{kid}|{subject}|{purpose}".encode()


def seal(plaintext: bytes, recipient: RecipientKey, *, subject: str, purpose: str) -> bytes:
    """Encrypt ``plaintext`` so that only the holder of the recipient's private key opens it."""
    if len(plaintext) > MAX_PLAINTEXT_BYTES:
        raise SealRejected(f"a sealed value holds at most {MAX_PLAINTEXT_BYTES} bytes")
    info = seal_info(recipient.kid, subject, purpose)
    header = bytes([FORMAT_VERSION, recipient.alg, len(recipient.kid)]) + recipient.kid.encode()
    if isinstance(recipient.public_key, x25519.X25519PublicKey):
        return header + _SUITE.encrypt(plaintext, recipient.public_key, info=info)
    cek, nonce = AESGCM.generate_key(bit_length=256), os.urandom(NONCE_BYTES)
    wrapped = recipient.public_key.encrypt(cek, _OAEP)
    sealed = AESGCM(cek).encrypt(nonce, plaintext, info)
    return header + len(wrapped).to_bytes(2, "big") + wrapped + nonce + sealed


def seal_b64(plaintext: bytes, recipient: RecipientKey, *, subject: str, purpose: str) -> str:
    return b64u(seal(plaintext, recipient, subject=subject, purpose=purpose))


def parse_envelope(data: bytes) -> Envelope:
    """Read the header; raises SealRejected when it is not a vault envelope."""
    if len(data) < 4 or data[0] != FORMAT_VERSION or data[1] not in set(Alg):
        raise SealRejected()
    kid_end = 3 + data[2]
    kid = data[3:kid_end].decode("ascii", errors="replace")
    if not _KID.match(kid) or len(data) <= kid_end:
        raise SealRejected()
    return Envelope(alg=Alg(data[1]), kid=kid, body=data[kid_end:])


def open_sealed(data: bytes, private_key: PrivateKey, *, subject: str, purpose: str) -> bytes:
    """Decrypt an envelope with the recipient's private key; raises SealRejected on any fault."""
    envelope = parse_envelope(data)
    info = seal_info(envelope.kid, subject, purpose)
    try:
        if envelope.alg is Alg.HPKE_X25519 and isinstance(private_key, x25519.X25519PrivateKey):
            return _SUITE.decrypt(envelope.body, private_key, info=info)
        if envelope.alg is Alg.RSA_OAEP_256 and isinstance(private_key, rsa.RSAPrivateKey):
            return _open_rsa(envelope.body, private_key, info)
    except (InvalidTag, ValueError):
        raise SealRejected() from None
    raise SealRejected()


def _open_rsa(body: bytes, private_key: rsa.RSAPrivateKey, info: bytes) -> bytes:
    size = int.from_bytes(body[:2], "big")
    wrapped, rest = body[2 : 2 + size], body[2 + size :]
    if size != private_key.key_size // 8 or len(rest) < NONCE_BYTES + 16:
        raise SealRejected()
    cek = private_key.decrypt(wrapped, _OAEP)
    return AESGCM(cek).decrypt(rest[:NONCE_BYTES], rest[NONCE_BYTES:], info)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64u_decode(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise SealRejected("not base64url") from None


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")
