"""Signed checkpoints of the audit chain's head, kept outside the database.

Rules:
- A checkpoint states ``(seq, hash, anchored_at)`` of the head at one moment; it is signed with
  the vault's Ed25519 anchor key over the canonical JSON of those three fields and the key id.
- The key id is the first 16 hex digits of the SHA-256 of the raw public key.
- Verification of the log takes the latest checkpoint whose signature holds: its head must lie
  on the chain, so rows deleted from the end (and ``audit_head`` moved back) are caught. Rows
  appended after the latest checkpoint are covered by the next one only.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from vault.domain.audit import Head

ALGORITHM = "Ed25519"


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    anchored_at: datetime
    key_id: str
    signature: str
    """base64url of the Ed25519 signature over ``signed_bytes()``."""

    @property
    def head(self) -> Head:
        return Head(self.seq, self.hash)

    def signed_bytes(self) -> bytes:
        return _payload(self.seq, self.hash, self.anchored_at, self.key_id)

    def verifies(self, public_key: Ed25519PublicKey) -> bool:
        if self.key_id != key_id(public_key):
            return False
        try:
            signature = base64.urlsafe_b64decode(self.signature + "=" * (-len(self.signature) % 4))
            public_key.verify(signature, self.signed_bytes())
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "hash": self.hash,
            "anchored_at": self.anchored_at.isoformat(),
            "key_id": self.key_id,
            "alg": ALGORITHM,
            "signature": self.signature,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Checkpoint:
        return cls(
            seq=int(str(data["seq"])),
            hash=str(data["hash"]),
            anchored_at=datetime.fromisoformat(str(data["anchored_at"])),
            key_id=str(data["key_id"]),
            signature=str(data["signature"]),
        )


def sign(private_key: Ed25519PrivateKey, head: Head, at: datetime) -> Checkpoint:
    kid = key_id(private_key.public_key())
    signature = private_key.sign(_payload(head.seq, head.hash, at, kid))
    encoded = base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    return Checkpoint(head.seq, head.hash, at, kid, encoded)


def _payload(seq: int, digest: str, at: datetime, kid: str) -> bytes:
    body = {
        "seq": seq,
        "hash": digest,
        "anchored_at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "key_id": kid,
        "purpose": "coffre-vault/audit-anchor/v1",
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
