"""Settings base for every Coffre service.

Rules: settings are read from the environment once, at start-up, and validated then; a missing or
malformed setting stops the process with an error that names the setting and never echoes its
value; outside development a placeholder secret is refused. Infrastructure settings shared by
every service (database, broker, tracing) use plain names (``DATABASE_URL``); a service's own
settings use its prefix (``AUTH_…``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from common.errors import ConfigurationError

Environment = Literal["development", "test", "production"]

PLACEHOLDER_MARKERS = ("change-me", "changeme", "placeholder", "dev-only", "insecure")
PLACEHOLDER_VALUES = frozenset({"", "secret", "password", "admin", "test", "xxx"})


def state_path(name: str) -> str:
    """A development default under the local state folder (``COFFRE_STATE_DIR``, else
    ``.state``), resolved when the settings are built: a process given another state folder
    (a test, a bench) never writes into the development stack's."""
    return str(Path(os.environ.get("COFFRE_STATE_DIR", ".state")) / name)


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    """Infrastructure settings every service has."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    service_name: str = "coffre"
    environment: Environment = Field("development", validation_alias=_env("COFFRE_ENVIRONMENT"))
    database_url: SecretStr = Field(
        SecretStr("postgresql://coffre@127.0.0.1:55432/coffre"),
        validation_alias=_env("DATABASE_URL"),
        description="Postgres DSN; the service uses its own schema in it.",
    )
    database_schema: str | None = Field(
        None,
        validation_alias=_env("DATABASE_SCHEMA"),
        description="Schema to use; defaults to the service name.",
    )
    db_pool_min: int = Field(1, ge=1, validation_alias=_env("DB_POOL_MIN"))
    db_pool_max: int = Field(10, ge=1, le=200, validation_alias=_env("DB_POOL_MAX"))
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:59092", min_length=3, validation_alias=_env("KAFKA_BOOTSTRAP_SERVERS")
    )
    kafka_idempotent_producer: bool = Field(
        True,
        validation_alias=_env("KAFKA_IDEMPOTENT_PRODUCER"),
        description="On for Apache Kafka; off for the embedded broker, which lacks it.",
    )
    kafka_session_timeout_ms: int = Field(
        10_000, ge=1_000, validation_alias=_env("KAFKA_SESSION_TIMEOUT_MS")
    )
    kafka_heartbeat_interval_ms: int = Field(
        3_000, ge=100, validation_alias=_env("KAFKA_HEARTBEAT_INTERVAL_MS")
    )
    max_event_bytes: int = Field(
        1_000_000, ge=1_024, le=10_000_000, validation_alias=_env("MAX_EVENT_BYTES")
    )
    redelivery_horizon_seconds: int = Field(
        7 * 86_400,
        ge=60,
        validation_alias=_env("REDELIVERY_HORIZON_SECONDS"),
        description="Sent outbox rows and inbox ids older than this are purged; keep it above "
        "the topics' retention (a consumer can be redelivered an event that long after).",
    )
    relay_lease_seconds: float = Field(
        5.0,
        ge=1.0,
        le=60.0,
        validation_alias=_env("RELAY_LEASE_SECONDS"),
        description="Outbox relay leadership lease; a dead leader is replaced after this long.",
    )
    http_host: str = Field("127.0.0.1", validation_alias=_env("HTTP_HOST"))
    http_port: int = Field(8000, ge=1, le=65535, validation_alias=_env("HTTP_PORT"))
    otel_exporter_otlp_endpoint: str | None = Field(
        None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_metrics_exporter: Literal["none", "otlp"] = Field(
        "none",
        validation_alias=_env("OTEL_METRICS_EXPORTER"),
        description="'otlp' also pushes metrics to the OTLP endpoint; /metrics is always served.",
    )
    metrics_enabled: bool = Field(
        True,
        validation_alias=_env("METRICS_ENABLED"),
        description="false: no meter provider is installed, every instrument is a no-op and "
        "/metrics is empty (to measure what metrics cost, or to run without them).",
    )
    metrics_sample_seconds: float = Field(
        15.0,
        gt=0,
        le=3600,
        validation_alias=_env("METRICS_SAMPLE_SECONDS"),
        description="How often gauges that need a query (the outbox backlog) are sampled.",
    )
    log_json: bool | None = Field(
        None, validation_alias=_env("LOG_JSON"), description="None: JSON when not on a terminal."
    )
    log_level: str = Field("INFO", validation_alias=_env("LOG_LEVEL"))
    service_identity_key_file: str | None = Field(
        None,
        validation_alias=_env("SERVICE_IDENTITY_KEY_FILE"),
        description="This service's Ed25519 private key (PEM) for service tokens.",
    )
    service_trust_dir: str | None = Field(
        None,
        validation_alias=_env("SERVICE_TRUST_DIR"),
        description="Folder of <service>.pub.pem public keys this service trusts.",
    )

    @property
    def schema_name(self) -> str:
        return self.database_schema or self.service_name.replace("-", "_")

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "development":
            return self
        for name, value in self:
            if isinstance(value, SecretStr):
                text = value.get_secret_value().lower()
                if text in PLACEHOLDER_VALUES or any(m in text for m in PLACEHOLDER_MARKERS):
                    raise ValueError(f"setting {name} holds a placeholder secret")
        return self


class MemberTokenSettings(ServiceSettings):
    """Settings of a service that members call with auth's access tokens."""

    auth_jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    auth_jwks_json: str | None = Field(None, description="A fixed JWKS document (tests, dev).")
    token_issuer: str = "https://auth.coffre.local"
    token_audience: str = "coffre-api"


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], **overrides: object) -> S:
    """Read and validate settings; on failure raise ConfigurationError naming each bad setting."""
    try:
        return cls(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_input=False, include_url=False):
            where = ".".join(str(part) for part in err["loc"]) or "settings"
            problems.append(f"{where}: {err['msg']}")
        raise ConfigurationError(
            f"invalid configuration for {cls.__name__}: " + "; ".join(problems),
            settings=[p.split(":")[0] for p in problems],
        ) from None
