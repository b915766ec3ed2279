"""Settings of the sandbox bank, read from `SANDBOX_BANK_*` environment variables."""

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SandboxSettings(BaseSettings):
    """How the sandbox listens, and the rules it enforces like a real PSD2 agent."""

    model_config = SettingsConfigDict(env_prefix="SANDBOX_BANK_", extra="ignore")

    host: str = Field("127.0.0.1", description="Interface uvicorn binds to.")
    port: int = Field(8010, ge=1, le=65535, description="Port uvicorn listens on.")
    public_base_url: str | None = Field(
        None, description="Absolute base of browser links (scaRedirect); default: request base."
    )
    seed: int = Field(0, description="Seed mixed with each PSU id to generate its data.")
    history_days: int = Field(90, ge=1, le=730, description="Days of generated history.")
    page_size: int = Field(100, ge=1, le=1000, description="Transactions per page.")
    max_consent_days: int = Field(180, ge=1, description="validUntil is capped this far ahead.")
    max_frequency_per_day: int = Field(
        4, ge=1, description="Cap on frequencyPerDay (unattended reads per account per 24 h)."
    )
    pending_booking_delay_seconds: int = Field(
        2 * 24 * 3600, ge=0, description="Sandbox time after which a pending transaction books."
    )
    payment_settle_delay_seconds: float = Field(
        0, ge=0, description="Sandbox time from a payment's acceptance (ACTC) to settlement."
    )
    payment_available_amount: str = Field(
        "5000.00",
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,2})?$",
        description="Default amount each account has available for payments (never served).",
    )
    credential_key: SecretStr | None = Field(
        None,
        description="The agent's X25519 private key for sealed PSU credentials (32 raw bytes, "
        "base64url); default: a fresh key per process, published at /v1/psu-credentials/keys.",
    )
    max_credential_attempts: int = Field(
        3, ge=1, le=10, description="Wrong embedded-SCA credentials before a consent is rejected."
    )
    fault_delay_seconds: float = Field(30.0, ge=0, description="Default delay of a slow fault.")
    enable_controls: bool = Field(True, description="Serve the /sandbox/* test controls.")
    access_log: bool = Field(
        False, description="uvicorn access log; off because paths carry consent ids (secrets)."
    )
