"""Auth's settings (``AUTH_…`` environment variables), validated at start-up.

Rules: the pepper and the key-encryption key are secrets of at least 32 characters, refused
outside development when they are placeholders; argon2id parameters never go below OWASP's
floor; access tokens never live more than 5 minutes; the recording SMS sender is refused in
production.
"""

from __future__ import annotations

from typing import Literal

from common.settings import ServiceSettings
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

DEV_PEPPER = "dev-only-auth-pepper-0123456789abcdef0123456789"
DEV_KEK = "dev-only-auth-key-encryption-key-0123456789abcdef"


class AuthSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="AUTH_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "auth"
    http_port: int = Field(8001, validation_alias=AliasChoices("AUTH_HTTP_PORT", "HTTP_PORT"))
    pepper: SecretStr = Field(SecretStr(DEV_PEPPER), description="HMAC key for codes and tokens")
    key_encryption_key: SecretStr = Field(
        SecretStr(DEV_KEK), description="Seals TOTP secrets and signing keys at rest"
    )
    issuer: str = "https://auth.coffre.local"
    audience: str = "coffre-api"
    public_base_url: str = Field("http://127.0.0.1:8001", description="Base of SAML endpoints")
    app_base_url: str = Field(
        "https://app.coffre.local", description="Base of the member app's pages e-mailed links open"
    )
    require_second_factor: bool = False
    idle_member_minutes: int = Field(20, ge=1, le=24 * 60)
    idle_payment_minutes: int = Field(5, ge=1, le=60)
    absolute_hours: int = Field(12, ge=1, le=24 * 7)
    access_ttl_seconds: int = Field(300, ge=30, le=300)
    stepup_ttl_seconds: int = Field(120, ge=30, le=300)
    lockout_failures: int = Field(5, ge=3, le=20)
    lockout_minutes: int = Field(30, ge=1, le=24 * 60)
    argon2_memory_kib: int = Field(19_456, ge=19_456)
    argon2_time_cost: int = Field(2, ge=2)
    argon2_parallelism: int = Field(1, ge=1, le=16)
    rate_login_per_ip: int = Field(30, ge=1, description="Logins per IP per 5 minutes")
    rate_login_per_account: int = Field(10, ge=1, description="Logins per address per 5 minutes")
    rate_sms_per_account: int = Field(5, ge=1, description="SMS codes per member per 15 minutes")
    key_rotation_days: int = Field(30, ge=1, le=365)
    sms_provider: Literal["recording", "http"] = "recording"
    sms_url: str | None = None
    sms_api_key: SecretStr | None = None
    mail_provider: Literal["recording", "http"] = "recording"
    mail_url: str | None = None
    mail_api_key: SecretStr | None = None
    trust_forwarded_for: bool = Field(False, description="Take the client IP from X-Forwarded-For")
    saml_xmlsec_binary: str = "/usr/bin/xmlsec1"
    oidc_timeout_seconds: float = Field(
        5.0, gt=0, le=30, description="Timeout of each call to a tenant's OIDC provider"
    )

    @model_validator(mode="after")
    def _check(self) -> AuthSettings:
        for name in ("pepper", "key_encryption_key"):
            if len(getattr(self, name).get_secret_value()) < 32:
                raise ValueError(f"setting {name} must be at least 32 characters")
        if self.environment == "production" and "recording" in (
            self.sms_provider,
            self.mail_provider,
        ):
            raise ValueError("recording SMS or mail senders are for development and tests only")
        if self.sms_provider == "http" and not (self.sms_url and self.sms_api_key):
            raise ValueError("setting sms_url and sms_api_key are required for the http sender")
        if self.mail_provider == "http" and not (self.mail_url and self.mail_api_key):
            raise ValueError("setting mail_url and mail_api_key are required for the http mailer")
        return self
