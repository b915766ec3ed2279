"""Aggregation's settings (`AGGREGATION_*`), validated at start-up.

Rules: the reference key is a secret (a placeholder is refused outside development); the
in-memory consent vault is allowed in development and tests only; the consent's validity and
access frequency never exceed what PSD2 allows (180 days, 4 unattended reads a day).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from common.settings import MemberTokenSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from aggregation.service.context import Policy


class AggregationSettings(MemberTokenSettings):
    model_config = SettingsConfigDict(
        env_prefix="AGGREGATION_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "aggregation"
    http_port: int = Field(
        8003, ge=1, le=65535, validation_alias=AliasChoices("AGGREGATION_HTTP_PORT", "HTTP_PORT")
    )
    ref_key: SecretStr = Field(
        SecretStr("dev-only-aggregation-reference-key"),
        description="Key of the keyed hashes behind account and transaction references.",
    )
    agent_base_url: str = Field("http://127.0.0.1:8010", description="The PSD2 agent (AIS).")
    agent_timeout_seconds: float = Field(10.0, gt=0, le=120)
    agent_attempts: int = Field(3, ge=1, le=10)
    agent_backoff_seconds: float = Field(0.5, ge=0, le=30)
    agent_name: str = Field(
        "sandbox-bank",
        description="The agent's name at the vault (VAULT_AGENT_KEYS) for re-sealed credentials.",
    )
    sealing_keys_cache_seconds: float = Field(
        300.0, ge=0, le=86_400, description="How long the vault's public sealing keys are cached."
    )
    callback_url: str = Field(
        "http://localhost:3000/bank/callback",
        description="Where the bank sends the member back (the app), with ?state=…",
    )
    consent_vault: Literal["http", "memory"] = "http"
    vault_url: str = "http://127.0.0.1:8002"
    vault_timeout_seconds: float = Field(5.0, gt=0, le=60)
    member_scopes: tuple[str, ...] = ("member", "payment")
    member_ip_header: str | None = Field(
        None, description="Header the gateway puts the member's IP in (else the peer address)."
    )
    consent_validity_days: int = Field(180, ge=1, le=180)
    expiry_warning_days: int = Field(7, ge=0, le=60)
    unattended_pulls_per_day: int = Field(4, ge=1, le=4)
    member_refresh_interval_seconds: int = Field(60, ge=0)
    history_days: int = Field(90, ge=1, le=730)
    overlap_days: int = Field(3, ge=0, le=30)
    state_ttl_seconds: int = Field(900, ge=30, le=3600)
    max_open_connections: int = Field(10, ge=1, le=100)
    sync_retry_base_seconds: int = Field(120, ge=1)
    sync_retry_cap_seconds: int = Field(7200, ge=1)
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = Field(30.0, gt=0)
    scheduler_batch_size: int = Field(50, ge=1, le=1000)
    initial_sync: bool = Field(True, description="Pull at once after a successful callback.")
    first_pull_lease_seconds: int = Field(
        120,
        ge=1,
        le=3600,
        description="A new account is due this long after it is linked, unless its first pull "
        "completed: a first pull a crash cut short is taken over by the scheduler then.",
    )
    erasure_consumer_group: str = "aggregation.erasure"

    @model_validator(mode="after")
    def _memory_vault_only_in_development(self) -> AggregationSettings:
        if self.consent_vault == "memory" and self.environment == "production":
            raise ValueError("consent_vault=memory is for development and tests only")
        if self.consent_vault == "http" and not self.service_identity_key_file:
            raise ValueError("service_identity_key_file is required to call the vault")
        if len(self.ref_key.get_secret_value().encode()) < 16:
            raise ValueError("ref_key must hold at least 16 bytes")
        return self

    def policy(self) -> Policy:
        return Policy(
            callback_url=self.callback_url,
            consent_validity_days=self.consent_validity_days,
            expiry_warning_days=self.expiry_warning_days,
            unattended_per_day=self.unattended_pulls_per_day,
            member_refresh_interval=timedelta(seconds=self.member_refresh_interval_seconds),
            history_days=self.history_days,
            overlap_days=self.overlap_days,
            state_ttl=timedelta(seconds=self.state_ttl_seconds),
            max_open_connections=self.max_open_connections,
            retry_base=timedelta(seconds=self.sync_retry_base_seconds),
            retry_cap=timedelta(seconds=self.sync_retry_cap_seconds),
            batch_size=self.scheduler_batch_size,
            first_pull_lease=timedelta(seconds=self.first_pull_lease_seconds),
        )
