"""Archive's settings (`ARCHIVE_*`), validated at start-up.

Rules: the object store endpoint and credentials follow the dev stack's shared names
(`OBJECT_STORE_ENDPOINT_URL`, `AWS_*`) unless `ARCHIVE_S3_*` says otherwise; the retention is
at least one year (ten by default) and never shortened by this code; the seal's key comes
through the signer port (`local-key` in development, `pkcs11` in production); the upload and
mail limits are enforced while bytes arrive, never after buffering them.
"""

from __future__ import annotations

from typing import Literal

from common.settings import MemberTokenSettings, state_path
from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict


class ArchiveSettings(MemberTokenSettings):
    model_config = SettingsConfigDict(
        env_prefix="ARCHIVE_", extra="ignore", frozen=True, populate_by_name=True
    )

    service_name: str = "archive"
    http_port: int = Field(
        8006, ge=1, le=65535, validation_alias=AliasChoices("ARCHIVE_HTTP_PORT", "HTTP_PORT")
    )
    # object store
    s3_endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("ARCHIVE_S3_ENDPOINT_URL", "OBJECT_STORE_ENDPOINT_URL"),
        description="S3 endpoint (none: the provider's default).",
    )
    s3_region: str = Field(
        "eu-west-1", validation_alias=AliasChoices("ARCHIVE_S3_REGION", "AWS_REGION")
    )
    s3_access_key_id: str | None = Field(
        None, validation_alias=AliasChoices("ARCHIVE_S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    s3_secret_access_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("ARCHIVE_S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"),
    )
    s3_bucket: str = "coffre-receipts"
    s3_create_bucket: bool = Field(
        True, description="Create the bucket, with Object Lock, at start."
    )
    retention_years: int = Field(10, ge=1, le=30)
    upload_key_ttl_hours: int = Field(
        48, ge=24, description="How long an upload's Idempotency-Key is remembered."
    )
    # vault
    vault_url: str = "http://127.0.0.1:8002"
    vault_timeout_seconds: float = Field(5.0, gt=0, le=60)
    # seal
    seal_signer: Literal["local-key", "pkcs11"] = "local-key"
    seal_cert_file: str = Field(default_factory=lambda: state_path("pki/seal.cert.pem"))
    seal_key_file: str = Field(default_factory=lambda: state_path("pki/seal.key.pem"))
    seal_chain_files: tuple[str, ...] = Field(
        default_factory=lambda: (state_path("pki/root.cert.pem"),)
    )
    seal_trust_roots: tuple[str, ...] = Field(
        default_factory=lambda: (state_path("pki/root.cert.pem"),)
    )
    seal_crl_files: tuple[str, ...] = Field(default_factory=lambda: (state_path("pki/root.crl"),))
    seal_pkcs11_module: str | None = None
    seal_pkcs11_token_label: str | None = None
    seal_pkcs11_key: str | None = None
    seal_pkcs11_pin: SecretStr | None = None
    tsa_url: str = "http://127.0.0.1:8021/"
    tsa_timeout_seconds: float = Field(10.0, gt=0, le=60)
    seal_workers: int = Field(
        4, ge=1, le=64, description="Sealing threads (each keeps its TSA connection)."
    )
    # intake
    max_upload_bytes: int = Field(10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    max_pixels: int = Field(60_000_000, ge=1_000_000, description="Decompression-bomb guard.")
    body_font_file: str | None = Field(
        None, description="TrueType font for e-mail bodies (default: DejaVu Sans, else Vera)."
    )
    smtp_enabled: bool = True
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(8025, ge=0, le=65535)
    smtp_domain: str = "receipts.coffre.local"
    smtp_max_message_bytes: int = Field(25 * 1024 * 1024, ge=1024)
    smtp_max_attachments: int = Field(20, ge=1, le=100)
    smtp_max_recipients: int = Field(5, ge=1, le=100)
    # members
    member_scopes: tuple[str, ...] = ("member", "payment")
    # background work
    scheduler_enabled: bool = True
    scheduler_interval_seconds: float = Field(15.0, gt=0)
    retry_base_seconds: float = Field(5.0, gt=0)
    retry_cap_seconds: float = Field(3600.0, gt=0)
    sweep_sample_size: int = Field(20, ge=0, le=10_000)
    sweep_interval_seconds: float = Field(3600.0, gt=0)
    match_window_days: int = Field(3, ge=0, le=31)
    archival_timestamp_days: int = Field(
        730, ge=1, le=3650, description="B-LTA: add a document timestamp this often (days)."
    )
    consumer_group: str = "archive"
    fault_kill_at: Literal["after-intake", "after-store"] | None = Field(
        None, description="Crash tests only: SIGKILL the process at this point of a receipt."
    )

    @model_validator(mode="after")
    def _coherent(self) -> ArchiveSettings:
        if not self.service_identity_key_file:
            raise ValueError("service_identity_key_file is required to call the vault")
        if self.seal_signer == "pkcs11" and not (
            self.seal_pkcs11_module and self.seal_pkcs11_token_label and self.seal_pkcs11_key
        ):
            raise ValueError("seal_signer=pkcs11 needs seal_pkcs11_module, _token and _key")
        if self.fault_kill_at and self.environment == "production":
            raise ValueError("fault_kill_at is a crash-test hook, refused in production")
        return self
