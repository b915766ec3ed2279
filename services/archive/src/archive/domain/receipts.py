"""A receipt's life: received → sealed (and stored) → shredded; and its retention.

Rules:
- A receipt belongs to exactly one member and is only ever shown to that member.
- A receipt is `received` once its original and rendered PDF are encrypted and staged; it
  becomes `sealed` only when the sealed PDF and the original are both in the object store under
  a retention lock; a failed step leaves it `received` with a retry time, never half-stored.
- Retention ends `retention_years` after sealing (ten by default) and is never shortened.
- A sealed receipt gets a new archival document timestamp (B-LTA) every `archival_every`,
  an interval shorter than the TSA certificates' validity, until its retention ends.
- After an erasure request a receipt stays until its retention date, then is `shredded`
  (its key destroyed in the vault): nothing of it can be read again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class Status(StrEnum):
    RECEIVED = "received"
    SEALED = "sealed"
    SHREDDED = "shredded"


class Source(StrEnum):
    UPLOAD = "upload"
    EMAIL = "email"


def retention_end(sealed_at: datetime, years: int) -> datetime:
    """The same calendar day `years` later (29 February → 28 February)."""
    try:
        return sealed_at.replace(year=sealed_at.year + years)
    except ValueError:
        return sealed_at.replace(year=sealed_at.year + years, day=28)


def retry_delay(attempts: int, base: float, cap: float) -> timedelta:
    """Exponential back-off: base·2^(attempts-1), at most cap."""
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Hints:
    """What the member told us at upload to attach the receipt to a movement."""

    transaction_ref: str | None = None
    payment_id: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    spent_on: date | None = None


@dataclass
class Receipt:
    receipt_id: uuid.UUID
    user_id: str
    source: Source
    filename: str
    content_type: str
    original_sha256: str
    original_size: int
    pdf_sha256: str
    created_at: datetime
    vault_subject: str
    wrapped_key: bytes
    document_key_id: str
    hints: Hints = field(default_factory=Hints)
    status: Status = Status.RECEIVED
    sealed_sha256: str | None = None
    sealed_size: int | None = None
    sealed_at: datetime | None = None
    retention_until: datetime | None = None
    sealed_object: str | None = None
    sealed_version: str | None = None
    sealed_cipher_sha256: str | None = None
    original_object: str | None = None
    original_version: str | None = None
    original_cipher_sha256: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    matched_kind: str | None = None
    matched_ref: str | None = None
    erasure_requested_at: datetime | None = None
    shredded_at: datetime | None = None
    archival_due_at: datetime | None = None
    pdfa: bool = False
    pdfa_reason: str | None = None
    """Why the archived PDF is not PDF/A-2b (None when it is)."""

    def mark_failed(self, error: str, now: datetime, base: float, cap: float) -> None:
        self.attempts += 1
        self.last_error = error
        self.next_attempt_at = now + retry_delay(self.attempts, base, cap)

    def mark_sealed(self, at: datetime, retention_years: int, archival_every: timedelta) -> None:
        self.status = Status.SEALED
        self.sealed_at = at
        self.retention_until = retention_end(at, retention_years)
        self.archival_due_at = at + archival_every
        self.next_attempt_at = None
        self.last_error = None

    def shreddable(self, now: datetime) -> bool:
        """Erasure asked, the receipt sealed and its legal retention over."""
        if self.erasure_requested_at is None or self.status is not Status.SEALED:
            return False
        return self.retention_until is not None and self.retention_until <= now


def vault_subject_for(receipt_id: uuid.UUID) -> str:
    """Each receipt has its own vault subject, so shredding one never touches another, and the
    member's own erasure in the vault does not destroy receipts the law says we must keep."""
    return f"archive-receipt-{receipt_id}"


def object_key(receipt_id: uuid.UUID, part: str) -> str:
    return f"receipts/{receipt_id}/{part}"


def aad(receipt_id: uuid.UUID, user_id: str, part: str) -> bytes:
    """Associated data binding a ciphertext to its receipt, member and part."""
    return f"coffre-archive/v1|{receipt_id}|{user_id}|{part}".encode()
