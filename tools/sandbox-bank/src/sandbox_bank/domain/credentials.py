"""PSU credentials for the embedded SCA approach: the agent's sealing key and the test PSUs'
passwords.

Rules:
- The TPP never sends credentials in clear: `encryptedPassword` is an envelope sealed to the
  agent's X25519 key in Coffre's documented format (`0x01 | 0x01 (HPKE) | kid length | kid |
  enc | ct`, RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM), with
  info `coffre-vault/seal/v1|<kid>|<authorisationId>|bank-credentials`: a value sealed for one
  authorisation does not open for another.
- The sealed plaintext is JSON `{"psuId": ..., "password": ...}`; it matches when the PSU is
  the consent's and the password is that PSU's test password (compared in constant time).
- A sandbox PSU's password is the first 16 hex digits of SHA-256 of
  `sandbox-password|<seed>|<psuId>`: deterministic, documented, never stored.
- The private key lives in this process only; the kid is derived from the public key.
"""

import base64
import binascii
import hashlib
import hmac
import json

from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

PURPOSE = "bank-credentials"
INFO_PREFIX = "coffre-vault/seal/v1"
_SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.AES_256_GCM)
_VERSION, _HPKE = 0x01, 0x01


class SealUnreadable(Exception):
    """The envelope is malformed, tampered with, or not sealed for this key and authorisation."""


def test_password(seed: int, psu_id: str) -> str:
    """The sandbox PSU's password."""
    return hashlib.sha256(f"sandbox-password|{seed}|{psu_id}".encode()).hexdigest()[:16]


class AgentKey:
    """The agent's X25519 key for credentials sealed by TPPs."""

    def __init__(self, private: x25519.X25519PrivateKey | None = None) -> None:
        self._private = private or x25519.X25519PrivateKey.generate()
        public = self._private.public_key().public_bytes_raw()
        self.kid = "agent-x25519-" + hashlib.sha256(public).hexdigest()[:16]
        self._public = public

    @classmethod
    def from_b64u(cls, raw: str) -> "AgentKey":
        """A key from its 32 raw private bytes, base64url."""
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return cls(x25519.X25519PrivateKey.from_private_bytes(data))

    def jwk(self) -> dict[str, str]:
        """The public half as a JWK (what a TPP's vault pins)."""
        x = base64.urlsafe_b64encode(self._public).rstrip(b"=").decode()
        alg = "HPKE-Base-X25519-SHA256-A256GCM"
        return {"kty": "OKP", "crv": "X25519", "x": x, "kid": self.kid, "use": "enc", "alg": alg}

    def open(self, envelope_b64u: str, authorisation_id: str) -> bytes:
        """The plaintext of an envelope sealed for this key and authorisation."""
        try:
            data = base64.urlsafe_b64decode(envelope_b64u + "=" * (-len(envelope_b64u) % 4))
        except (binascii.Error, ValueError) as exc:
            raise SealUnreadable() from exc
        if len(data) < 4 or data[0] != _VERSION or data[1] != _HPKE:
            raise SealUnreadable()
        kid_end = 3 + data[2]
        if data[3:kid_end] != self.kid.encode():
            raise SealUnreadable()
        info = f"{INFO_PREFIX}|{self.kid}|{authorisation_id}|{PURPOSE}".encode()
        try:
            return _SUITE.decrypt(data[kid_end:], self._private, info=info)
        except Exception as exc:  # any HPKE failure reads the same from outside
            raise SealUnreadable() from exc


def matches(plaintext: bytes, psu_id: str, password: str) -> bool:
    """The sealed credentials are this PSU's, with the right password."""
    try:
        given = json.loads(plaintext)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(given, dict):
        return False
    same_psu = hmac.compare_digest(str(given.get("psuId", "")).encode(), psu_id.encode())
    same_password = hmac.compare_digest(str(given.get("password", "")).encode(), password.encode())
    return same_psu and same_password
