"""Vault events: master key rotation progress and retirement, audit chain anchors.

Erasure proofs travel in ``erasure.erasure-completed`` (``common.events.erasure``), with
``service="vault"`` and a proof holding the destroyed key ids, the time and the audit chain
position of the erasure entry. No vault event ever carries key material.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from common.events.base import Event, event


@event("vault.rotation-progressed", 1)
class RotationProgressed(Event):
    """A batch of data keys was re-wrapped under the new master key version."""

    rotation_id: str = Field(description="Id of the rotation.")
    to_version: int = Field(ge=1, description="The master key version keys are re-wrapped under.")
    rewrapped: int = Field(ge=0, description="Data keys re-wrapped so far.")
    total: int = Field(ge=0, description="Data keys to re-wrap in all (grows if keys are added).")
    done: bool = Field(description="True on the last event of the rotation.")


@event("vault.master-key-retired", 1)
class MasterKeyRetired(Event):
    """A master key version wraps no data key any more; its wrapped material was dropped."""

    version: int = Field(ge=1, description="The retired master key version.")
    rotation_id: str = Field(description="The rotation that emptied it.")


@event("vault.audit-anchored", 1)
class AuditAnchored(Event):
    """A signed checkpoint of the vault's audit chain head, kept outside the vault's database.

    Anyone holding the vault's anchor public key can check that a later log still contains this
    head: deleting the newest rows and moving the head back is then caught."""

    seq: int = Field(ge=1, description="Position of the head entry in the audit chain.")
    hash: str = Field(
        min_length=64, max_length=64, description="SHA-256 of the head entry, 64 hex digits."
    )
    anchored_at: datetime = Field(description="When the checkpoint was taken (UTC).")
    key_id: str = Field(description="Id of the Ed25519 anchor key (16 hex digits).")
    alg: str = Field("Ed25519", description="Signature algorithm.")
    signature: str = Field(
        description="base64url Ed25519 signature over the canonical checkpoint "
        "(see the vault README, 'Audit log')."
    )
