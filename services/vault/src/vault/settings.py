"""The vault's settings (``VAULT_…`` environment variables), validated at start-up.

Rules: the KMS is the local key file (the embedded default) or AWS KMS, which then needs a key
id; the policy text, when set, replaces the default policy whole; outside development the vault
refuses to start without a folder of trusted service identities.
"""

from __future__ import annotations

from typing import Literal

from common.settings import ServiceSettings, state_path
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict


class VaultSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="VAULT_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "vault"
    http_port: int = Field(8002, validation_alias=AliasChoices("VAULT_HTTP_PORT", "HTTP_PORT"))
    kms: Literal["local-file", "aws"] = Field(
        "local-file", description="Which KMS wraps master keys"
    )
    kms_key_file: str = Field(
        default_factory=lambda: state_path("kms/master.key"),
        description="Local KMS key file (0600)",
    )
    aws_kms_key_id: str | None = Field(None, description="AWS KMS key id or ARN")
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
    policy: str | None = Field(
        None, description="service:purpose:action items, comma-separated; replaces the default"
    )
    cache_ttl_seconds: float = Field(300.0, ge=0, le=3600)
    cache_max_uses: int = Field(10_000, ge=0, le=1_000_000)
    cache_max_entries: int = Field(10_000, ge=0, le=1_000_000)
    anchor_key_file: str = Field(
        default_factory=lambda: state_path("vault/anchor.key"),
        description="Ed25519 key that signs audit anchors (0600, created if absent); its public "
        "key is written beside it as anchor.pub.pem",
    )
    anchor_dir: str = Field(
        default_factory=lambda: state_path("vault/anchors"),
        description="Folder of signed audit checkpoints (development)",
    )
    anchor_seconds: float = Field(
        60.0, gt=0, le=86_400, description="How often the audit head is anchored when it moved"
    )
    audit_verify_seconds: float = Field(
        60.0,
        gt=0,
        le=86_400,
        description="How often the audit rows written since the last check are verified (the "
        "coffre_vault_audit_chain_intact gauge)",
    )
    audit_full_verify_seconds: float = Field(
        86_400.0,
        ge=0,
        le=30 * 86_400,
        description="How often that check walks the whole audit log instead (0: never)",
    )
    grant_sweep_seconds: float = Field(30.0, gt=0, le=3600)
    max_secret_bytes: int = Field(16 * 1024, ge=256, le=64 * 1024)
    agent_keys: str | None = Field(
        None,
        description="Pinned public keys of PSD2 agents that may receive re-sealed credentials: "
        'JSON {"<agent name>": <X25519 or RSA JWK>}; none: nothing can be re-sealed.',
    )
    erasure_hold_seconds: float = Field(
        86_400.0,
        ge=0,
        le=7 * 86_400,
        description="Longest wait of an erasure for the member's bank consents to be revoked "
        "(everything but the consent tokens is shredded at once); 0 shreds them at once too.",
    )

    @model_validator(mode="after")
    def _check(self) -> VaultSettings:
        if self.kms == "aws" and not self.aws_kms_key_id:
            raise ValueError("setting aws_kms_key_id is required when kms is 'aws'")
        if self.environment != "development" and not self.service_trust_dir:
            raise ValueError("setting service_trust_dir is required outside development")
        return self
