"""The key hierarchy: KMS → versioned master keys → per-subject data keys → secrets.

Rules:
- Exactly one master key version is ``active`` and wraps every new data key; older versions are
  ``decrypt-only`` until no data key uses them, then ``retired`` (their wrapped material dropped).
- A subject has one live data key; destroying it (crypto-shredding) makes every secret and
  document key of that subject unreadable for ever. Destroyed keys keep their id, never bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from vault.domain.errors import Erased


class MasterKeyState(StrEnum):
    ACTIVE = "active"
    DECRYPT_ONLY = "decrypt-only"
    RETIRED = "retired"


@dataclass(frozen=True, slots=True)
class MasterKey:
    version: int
    wrapped: bytes | None
    kms_key_id: str
    state: MasterKeyState
    created_at: datetime
    retired_at: datetime | None = None

    def demote(self) -> MasterKey:
        return replace(self, state=MasterKeyState.DECRYPT_ONLY)

    def retire(self, at: datetime) -> MasterKey:
        return replace(self, state=MasterKeyState.RETIRED, wrapped=None, retired_at=at)


def kms_context(version: int) -> dict[str, str]:
    """The KMS encryption context that binds a wrapped master key to its version."""
    return {"coffre-vault": "master-key", "version": str(version)}


@dataclass(frozen=True, slots=True)
class DataKey:
    key_id: str
    subject: str
    version: int
    master_version: int
    wrapped: bytes | None
    created_at: datetime
    destroyed_at: datetime | None = None

    @property
    def destroyed(self) -> bool:
        return self.destroyed_at is not None

    def ensure_live(self) -> DataKey:
        if self.destroyed:
            raise Erased()
        return self

    def rewrapped(self, wrapped: bytes, master_version: int) -> DataKey:
        return replace(self, wrapped=wrapped, master_version=master_version)

    def destroy(self, at: datetime) -> DataKey:
        return replace(self, wrapped=None, destroyed_at=at)


@dataclass(frozen=True, slots=True)
class SecretRecord:
    subject: str
    purpose: str
    secret_id: str
    key_id: str
    key_version: int
    ciphertext: bytes
    created_at: datetime
    updated_at: datetime
