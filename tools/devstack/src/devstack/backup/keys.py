"""Backup data keys, wrapped and unwrapped by the vault's own KMS port.

Rules: the KMS is the one the vault is configured with (``VAULT_KMS``: the local key file of the
dev stack, or AWS KMS), built by the vault's adapters — no other crypto for keys. A fresh
AES-256 key per backup, wrapped with the backup id as encryption context, so a wrapped key only
opens for its own backup. A backup or restore never creates a KMS key file: a missing one is an
error (a new key could not open any existing backup). A KMS refusal (wrong key, altered wrapped
key) is an ``IntegrityError`` that says so, without the KMS's own message.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from common.errors import ConfigurationError
from common.settings import load_settings
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vault.adapters.kms import LocalFileKms
from vault.domain.errors import KmsUnavailable
from vault.service.ports import Kms
from vault.settings import VaultSettings

from devstack.backup.errors import BackupError, IntegrityError
from devstack.backup.manifest import kms_context


def vault_kms() -> tuple[Kms, str]:
    """The vault's KMS and a printable id of its key, from the vault's settings."""
    try:
        settings = load_settings(VaultSettings)
    except ConfigurationError as exc:
        raise BackupError(f"vault KMS settings: {exc.message}") from None
    if settings.kms == "local-file":
        kms = LocalFileKms(settings.kms_key_file, create=False)
        return kms, kms.key_id
    from vault.container import make_kms  # the vault's whole wiring: only when needed

    return make_kms(settings), f"aws-kms:{settings.aws_kms_key_id}"


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes
    wrapped: str


async def new_data_key(kms: Kms, backup_id: str) -> DataKey:
    key = AESGCM.generate_key(bit_length=256)
    try:
        wrapped = await kms.encrypt(key, kms_context(backup_id))
    except (KmsUnavailable, ConfigurationError) as exc:
        raise BackupError(f"the KMS cannot wrap a backup key: {_reason(exc)}") from None
    return DataKey(key, base64.b64encode(wrapped).decode())


async def unwrap(kms: Kms, backup_id: str, wrapped: str) -> bytes:
    try:
        blob = base64.b64decode(wrapped, validate=True)
    except ValueError:
        raise IntegrityError("the manifest's wrapped key is not base64") from None
    try:
        key: bytes = await kms.decrypt(blob, kms_context(backup_id))
    except KmsUnavailable as exc:
        raise IntegrityError(
            f"the backup's data key does not unwrap ({exc.message}): another KMS key, or the "
            "manifest was altered; nothing restored"
        ) from None
    except ConfigurationError as exc:
        raise BackupError(f"the KMS is not usable: {exc.message}") from None
    if len(key) != 32:
        raise IntegrityError("the unwrapped backup key is not a 256-bit key")
    return key


def _reason(exc: Exception) -> str:
    return getattr(exc, "message", None) or type(exc).__name__
