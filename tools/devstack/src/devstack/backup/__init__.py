"""Encrypted logical backups of the dev stack's Postgres (``coffre-dev backup`` / ``restore``).

Rules:
- One backup is one dump per service schema, all taken from one exported snapshot, so the
  schemas agree with one another (a producer's outbox and a consumer's inbox are from the same
  instant) — see ``pgtools``.
- Each dump is encrypted as it streams out of ``pg_dump`` (AES-256-GCM segments, ``segments``)
  under a fresh data key that the vault's KMS wraps: the dump is never in clear on disk, and
  the wrapped key is useless without that KMS.
- Objects and the manifest go to an S3 bucket with Object Lock (COMPLIANCE, a retention in days):
  nobody can delete or overwrite a backup before its retention ends.
- A restore checks every object's SHA-256 against the manifest before anything is written,
  refuses a target that already holds one of the schemas unless told to drop them, restores each
  schema in one transaction, and compares every table's row count with the manifest.
"""
