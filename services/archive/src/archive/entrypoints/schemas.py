"""HTTP shapes of the archive API, and the parsing of an upload's optional fields."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, Field

from archive.domain.errors import InvalidUpload
from archive.domain.receipts import Hints, Receipt
from archive.domain.seal import VerificationReport

_REF = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_AMOUNT = re.compile(r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
KNOWN_FIELDS = {"transaction_ref", "payment_id", "amount", "currency", "date"}

UPLOAD_REQUEST_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "The receipt: JPEG, PNG, WebP, HEIC/HEIF or PDF.",
                    },
                    "transaction_ref": {"type": "string", "pattern": _REF.pattern},
                    "payment_id": {"type": "string", "pattern": _REF.pattern},
                    "amount": {"type": "string", "pattern": _AMOUNT.pattern},
                    "currency": {"type": "string", "pattern": _CURRENCY.pattern},
                    "date": {"type": "string", "format": "date"},
                },
            }
        }
    },
}
"""The upload's ``requestBody`` (the route reads its multipart body itself, as it streams)."""


def _ref(fields: dict[str, str], name: str) -> str | None:
    value = fields.get(name, "").strip()
    if not value:
        return None
    if not _REF.fullmatch(value):
        raise InvalidUpload(f"'{name}' must be 1-64 letters, digits or . _ : -", field=name)
    return value


def hints_from(fields: dict[str, str]) -> Hints:
    unknown = set(fields) - KNOWN_FIELDS
    if unknown:
        raise InvalidUpload(f"unknown form field '{sorted(unknown)[0][:32]}'")
    amount = currency = spent_on = None
    if fields.get("amount", "").strip():
        raw = fields["amount"].strip()
        try:
            if not _AMOUNT.fullmatch(raw):
                raise InvalidOperation
            amount = Decimal(raw)
        except InvalidOperation:
            raise InvalidUpload("'amount' must be a decimal like 12.50", field="amount") from None
        currency = fields.get("currency", "EUR").strip() or "EUR"
        if not _CURRENCY.fullmatch(currency):
            raise InvalidUpload("'currency' must be an ISO 4217 code", field="currency")
    if fields.get("date", "").strip():
        try:
            spent_on = date.fromisoformat(fields["date"].strip())
        except ValueError:
            raise InvalidUpload("'date' must be YYYY-MM-DD", field="date") from None
    return Hints(
        transaction_ref=_ref(fields, "transaction_ref"),
        payment_id=_ref(fields, "payment_id"),
        amount=amount,
        currency=currency,
        spent_on=spent_on,
    )


class ReceiptOut(BaseModel):
    receipt_id: uuid.UUID
    status: str = Field(description="received (being sealed), sealed or shredded")
    source: str
    filename: str
    content_type: str
    size: int
    sha256: str = Field(description="SHA-256 of the original as received")
    received_at: datetime
    sealed_sha256: str | None = None
    sealed_at: datetime | None = None
    retention_until: datetime | None = None
    matched: dict[str, str] | None = Field(None, description="{kind, ref} once attached")
    pdfa: bool = Field(False, description="The archived PDF is PDF/A-2b")
    pdfa_reason: str | None = Field(None, description="Why it is not PDF/A-2b")

    @classmethod
    def of(cls, r: Receipt) -> ReceiptOut:
        return cls(
            receipt_id=r.receipt_id,
            status=r.status.value,
            source=r.source.value,
            filename=r.filename,
            content_type=r.content_type,
            size=r.original_size,
            sha256=r.original_sha256,
            received_at=r.created_at,
            sealed_sha256=r.sealed_sha256,
            sealed_at=r.sealed_at,
            retention_until=r.retention_until,
            matched={"kind": r.matched_kind, "ref": r.matched_ref}
            if r.matched_kind and r.matched_ref
            else None,
            pdfa=r.pdfa,
            pdfa_reason=r.pdfa_reason,
        )


class ReceiptsOut(BaseModel):
    receipts: list[ReceiptOut]


class AddressOut(BaseModel):
    address: str = Field(description="Forward receipts to this address from a verified address")


class VerificationOut(BaseModel):
    receipt_id: uuid.UUID
    ok: bool = Field(description="Every check below passed")
    signature_intact: bool
    signature_valid: bool
    certificate_trusted: bool
    covers_whole_document: bool
    signer: str
    signed_at: datetime | None
    timestamp: datetime | None = Field(description="Time certified by the RFC 3161 timestamp")
    level: str
    hash_matches_record: bool
    recorded_sha256: str
    actual_sha256: str
    retention_until: datetime | None
    pdfa: bool = Field(description="The sealed document is a PDF/A-2b (recorded at conversion)")
    pdfa_reason: str | None = Field(description="Why it is not PDF/A-2b")
    problems: list[str]

    @classmethod
    def of(cls, r: Receipt, report: VerificationReport) -> VerificationOut:
        c = report.check
        return cls(
            receipt_id=r.receipt_id,
            ok=report.ok,
            signature_intact=c.intact,
            signature_valid=c.valid,
            certificate_trusted=c.trusted,
            covers_whole_document=c.covers_whole_file,
            signer=c.signer,
            signed_at=c.signed_at,
            timestamp=c.timestamp_at,
            level=c.level,
            hash_matches_record=report.hash_matches,
            recorded_sha256=report.recorded_sha256,
            actual_sha256=report.actual_sha256,
            retention_until=r.retention_until,
            pdfa=r.pdfa,
            pdfa_reason=r.pdfa_reason,
            problems=list(c.problems),
        )
