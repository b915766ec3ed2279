"""The vault's sealing keys: key pairs whose public half clients use to seal credentials.

Rules: the private half is stored only wrapped by the KMS (context names its kid) and is opened
inside the vault; the public half is published with its kid; a retired key opens nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.security.client_encryption import Alg


@dataclass(frozen=True, slots=True)
class SealingKey:
    kid: str
    alg: Alg
    public_key: bytes
    """Raw 32 bytes for X25519, DER SubjectPublicKeyInfo for RSA."""
    wrapped_private: bytes
    created_at: datetime
    active: bool = True


def sealing_kms_context(kid: str) -> dict[str, str]:
    return {"coffre-vault": "sealing-key", "kid": kid}
