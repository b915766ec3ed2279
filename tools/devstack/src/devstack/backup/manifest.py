"""The manifest stored beside a backup's objects: what was dumped, how, and how to open it.

Rules: it holds the data key only wrapped by the KMS (with the backup id as encryption
context), the SHA-256 of every stored object (checked before a restore writes anything) and of
every plaintext dump (checked as it is decrypted), and each table's row count in the snapshot
(compared after a restore). It never holds a password or a key in clear.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field

FORMAT = 1
PREFIX = "backups/"
_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


def new_backup_id(now: datetime) -> str:
    """Sortable by time: ``20261201T020000Z-1a2b3c4d``."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def valid_backup_id(text: str) -> bool:
    return bool(_ID.match(text))


def manifest_key(backup_id: str) -> str:
    return f"{PREFIX}{backup_id}/manifest.json"


def dump_key(backup_id: str, schema: str) -> str:
    return f"{PREFIX}{backup_id}/{schema}.dump.enc"


def kms_context(backup_id: str) -> dict[str, str]:
    """The KMS encryption context of a backup's data key (never that of a vault master key)."""
    return {"coffre-backup": "data-key", "backup_id": backup_id}


def associated_data(backup_id: str, schema: str) -> bytes:
    return f"coffre-backup/v1|{backup_id}|{schema}".encode()


class SchemaDump(BaseModel):
    model_config = ConfigDict(frozen=True)

    schema_name: str = Field(description="The Postgres schema (one service)")
    key: str = Field(description="Object key of the encrypted dump")
    plain_bytes: int = Field(description="Size of the pg_dump output (custom format)")
    stored_bytes: int = Field(description="Size of the stored, encrypted object")
    plain_sha256: str = Field(description="SHA-256 of the pg_dump output")
    stored_sha256: str = Field(description="SHA-256 of the stored object")
    row_counts: dict[str, int] = Field(description="Rows per table, in the snapshot")


class Manifest(BaseModel):
    model_config = ConfigDict(frozen=True)

    format: int = FORMAT
    backup_id: str
    started_at: datetime
    finished_at: datetime
    retain_until: datetime = Field(description="Object Lock retention of every object")
    database: str = Field(description="host:port/dbname of the source, no credentials")
    postgres_version: str = Field(description="server_version of the source")
    pg_dump_version: str
    snapshot: str = Field(description="The exported snapshot every dump was taken in")
    kms_key_id: str
    wrapped_key: str = Field(description="The data key wrapped by the KMS, base64")
    cipher: str = "AES-256-GCM segments of 1 MiB (STREAM), nonce prefix 7 B"
    schemas: list[SchemaDump]

    @property
    def stored_bytes(self) -> int:
        return sum(s.stored_bytes for s in self.schemas)
