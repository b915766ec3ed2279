"""Events the archive service publishes: a receipt's intake, seal, match and integrity.

Rules: a payload names the receipt and its member and carries hashes, sizes and dates, never
the document, a key or a wrapped key; payloads are frozen; a change is additive, a breaking
change is a new version. The envelope's subject is the member; the key is the receipt id.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from common.events.base import Event, event


@event("archive.receipt-uploaded", 1)
class ReceiptUploaded(Event):
    """A receipt was accepted (HTTP upload, desktop client or e-mail), encrypted and staged."""

    receipt_id: str = Field(description="The receipt's id.")
    user_id: str = Field(description="Opaque id of the member who owns it.")
    source: Literal["upload", "email"] = Field(description="How it arrived.")
    content_type: str = Field(description="The original's type, read from its bytes.")
    size: int = Field(ge=0, description="Size of the original in bytes.")
    sha256: str = Field(description="SHA-256 (hex) of the original as received.")
    received_at: datetime = Field(description="When it was accepted (UTC).")


@event("archive.receipt-sealed", 1)
class ReceiptSealed(Event):
    """A receipt's PDF was sealed (PAdES B-LT), encrypted and stored under a retention lock."""

    receipt_id: str = Field(description="The receipt's id.")
    user_id: str = Field(description="Opaque id of the member who owns it.")
    sha256: str = Field(description="SHA-256 (hex) of the sealed PDF.")
    size: int = Field(ge=0, description="Size of the sealed PDF in bytes.")
    sealed_at: datetime = Field(description="Time of the seal's RFC 3161 timestamp (UTC).")
    retention_until: datetime = Field(description="Until when the store refuses deletion.")


@event("archive.receipt-matched", 1)
class ReceiptMatched(Event):
    """A receipt was attached to one of the member's transactions or payments."""

    receipt_id: str = Field(description="The receipt's id.")
    user_id: str = Field(description="Opaque id of the member who owns it.")
    kind: Literal["transaction", "payment"] = Field(description="What it was attached to.")
    ref: str = Field(description="The transaction reference or payment id.")
    rule: Literal["link", "amount-and-date"] = Field(description="Which rule matched.")


@event("archive.receipt-integrity-failed", 1)
class ReceiptIntegrityFailed(Event):
    """The integrity sweep found a stored receipt that does not match its record."""

    receipt_id: str = Field(description="The receipt's id.")
    user_id: str = Field(description="Opaque id of the member who owns it.")
    part: Literal["sealed", "original"] = Field(description="Which stored object failed.")
    problem: str = Field(description="missing, hash-mismatch, decrypt-failed or seal-invalid.")
    detected_at: datetime = Field(description="When the sweep found it (UTC).")


@event("archive.receipt-shredded", 1)
class ReceiptShredded(Event):
    """An erased member's receipt reached its retention date and its key was destroyed."""

    receipt_id: str = Field(description="The receipt's id.")
    user_id: str = Field(description="Opaque id of the erased member.")
    shredded_at: datetime = Field(description="When its key was destroyed (UTC).")
