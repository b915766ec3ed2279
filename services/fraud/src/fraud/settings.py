"""Fraud's settings (``FRAUD_…`` environment variables), validated at start-up.

Rules: thresholds and rule weights form a valid scoring policy or the service does not start;
analysts are named explicitly (by member id, or by a scope auth grants) and must have used a
second factor; only the named services may ask for payment decisions.
"""

from __future__ import annotations

from decimal import Decimal

from common.settings import ServiceSettings
from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import SettingsConfigDict

from fraud.domain.errors import InvalidPolicy
from fraud.domain.rules import DEFAULT_WEIGHTS
from fraud.domain.scoring import ScoringPolicy


class FraudSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="FRAUD_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "fraud"
    http_port: int = Field(8004, validation_alias=AliasChoices("FRAUD_HTTP_PORT", "HTTP_PORT"))
    review_at: float = Field(0.5, description="Score from which a decision is review.")
    block_at: float = Field(0.85, description="Score from which a decision is block.")
    model_weight: float = Field(0.35, description="Share of the model in a score once ready.")
    model_min_per_class: int = Field(10, ge=1, description="Verdicts of each class before use.")
    rule_weights: dict[str, float] = Field(
        default_factory=dict, description="Overrides of rule weights (JSON object)."
    )
    max_amount: Decimal = Field(Decimal("1000000000"), gt=0, description="Absurd above this.")
    auto_register_accounts: bool = Field(
        False, description="Accept an unknown account for any subject (not only members)."
    )
    park_timeout_seconds: float = Field(
        900.0,
        gt=0,
        le=86_400,
        description="How long a transaction waits for its owner's registration before it is "
        "scored as of an unknown owner.",
    )
    park_check_seconds: float = Field(5.0, gt=0, le=3600, description="Parked events pass.")
    model_refresh_seconds: float = Field(5.0, gt=0, le=3600)
    report_weekday: int = Field(0, ge=0, le=6, description="Day of the weekly run (0=Monday).")
    report_hour: int = Field(6, ge=0, le=23, description="UTC hour of the weekly run.")
    report_check_seconds: float = Field(300.0, gt=0)
    auth_jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    token_issuer: str = "https://auth.coffre.local"
    token_audience: str = "coffre-api"
    analysts: list[str] = Field(default_factory=list, description="Member ids who are analysts.")
    analyst_scope: str = "fraud:analyst"
    analyst_requires_second_factor: bool = True
    decision_callers: list[str] = Field(default_factory=lambda: ["payments"])
    snapshot_every_events: int = Field(
        64, ge=1, le=100_000, description="Outflows of an account between two state snapshots."
    )
    snapshot_every_seconds: float = Field(
        30.0, gt=0, le=86_400, description="Longest time an account's changes go unsnapshotted."
    )
    state_cache_accounts: int = Field(
        200_000, ge=1, description="Account states this replica keeps in memory at most."
    )
    batch_max_events: int = Field(
        500, ge=1, le=100_000, description="Most events the activity consumer scores in a batch."
    )
    batch_max_wait_ms: int = Field(
        5,
        ge=1,
        le=1_000,
        description="Longest a poll of the activity consumer waits for a first event: a batch is "
        "what has arrived, never held back to fill up.",
    )
    fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        le=5_000,
        description="Longest the broker holds a fetch of the activity consumer open with nothing "
        "new. Apache Kafka answers a waiting fetch as soon as a record arrives, so there it only "
        "sets how often an idle consumer asks. The embedded broker answers only when the wait "
        "expires, and its storage reads (every partition of the fetch) must also fit in it: a "
        "partition not read in time is answered empty, so a wait of a few ms starves the "
        "consumer whenever its storage is slow (the dev stack's S3 store on a loaded machine).",
    )
    decision_wait_seconds: float = Field(
        1.0,
        ge=0,
        le=30,
        description="How long a decision asked over HTTP waits for the partition owner to decide "
        "the payment from its event before this replica decides it.",
    )
    consumer_group_prefix: str = Field(
        "fraud", pattern=r"^[a-z0-9][a-z0-9._-]{0,40}$", description="Kafka consumer groups."
    )

    def policy(self) -> ScoringPolicy:
        return ScoringPolicy(
            review_at=self.review_at,
            block_at=self.block_at,
            model_weight=self.model_weight,
            model_min_per_class=self.model_min_per_class,
            weights={**DEFAULT_WEIGHTS, **self.rule_weights},
        )

    @model_validator(mode="after")
    def _valid_policy(self) -> FraudSettings:
        try:
            self.policy()
        except InvalidPolicy as exc:
            raise ValueError(exc.message) from None
        return self
