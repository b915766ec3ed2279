"""What can go wrong with a backup or a restore: one flat tree, messages safe to print."""

from __future__ import annotations


class BackupError(Exception):
    """A backup or restore that cannot go on; the message names the cause, never a secret."""


class BackupStoreError(BackupError):
    """The object store refused a call, or the bucket is not fit for backups."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class BackupNotFound(BackupError):
    """No backup with that id (or none at all) in the bucket."""


class IntegrityError(BackupError):
    """A stored object does not match its manifest, or does not decrypt: it was altered,
    truncated, or wrapped by another KMS key. Nothing is restored from it."""


class TargetNotEmpty(BackupError):
    """The restore target already holds one of the backup's schemas."""


class DumpFailed(BackupError):
    """pg_dump or pg_restore exited with an error."""
