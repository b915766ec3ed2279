"""Where backups come from and go to (``COFFRE_BACKUP_…`` plus the stack's own variables).

Rules: the database is ``DATABASE_URL``; the object store is the one every service uses
(``OBJECT_STORE_ENDPOINT_URL``, ``AWS_…``; no endpoint means AWS itself); the KMS is the vault's
own (its ``VAULT_KMS…`` settings, see ``keys``); the retention is at least one day.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class BackupSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="COFFRE_BACKUP_", extra="ignore", frozen=True, populate_by_name=True
    )

    database_url: SecretStr = Field(
        SecretStr("postgresql://coffre@127.0.0.1:55432/coffre"),
        validation_alias=AliasChoices("COFFRE_BACKUP_DATABASE_URL", "DATABASE_URL"),
    )
    bucket: str = Field("coffre-backups", min_length=3, max_length=63)
    retention_days: int = Field(35, ge=1, le=3650, description="Object Lock retention")
    endpoint_url: str | None = Field(
        None,
        validation_alias=AliasChoices("COFFRE_BACKUP_ENDPOINT_URL", "OBJECT_STORE_ENDPOINT_URL"),
    )
    region: str = Field(
        "eu-west-1", validation_alias=AliasChoices("COFFRE_BACKUP_REGION", "AWS_REGION")
    )
    access_key_id: SecretStr | None = Field(None, validation_alias="AWS_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(None, validation_alias="AWS_SECRET_ACCESS_KEY")
    status_dir: Path | None = Field(
        None, description="Where the status file and metric go (default <state>/backup)"
    )
