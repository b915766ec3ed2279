"""Reading a receipt back, and proving it is intact.

Rules: a member reads only their own receipts (anyone else's is "not found", so ids leak
nothing); only a sealed receipt can be read; the stored ciphertext must hash to what was
recorded when it was stored, and decrypt under the receipt's key and associated data; every
read and verification is journaled.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from archive.domain.encryption import decrypt
from archive.domain.errors import IntegrityMismatch, ReceiptNotFound, ReceiptNotReady
from archive.domain.errors import ReceiptShredded as ShreddedError
from archive.domain.receipts import Receipt, Status, aad
from archive.domain.seal import VerificationReport
from archive.service.context import Context


@dataclass(frozen=True)
class Document:
    receipt: Receipt
    pdf: bytes


async def own_receipt(ctx: Context, user_id: str, receipt_id: uuid.UUID) -> Receipt:
    async with ctx.uow() as uow:
        receipt = await uow.receipts.get(receipt_id)
    if receipt is None or receipt.user_id != user_id:
        raise ReceiptNotFound()
    return receipt


async def load_sealed(ctx: Context, receipt: Receipt) -> bytes:
    """The sealed PDF in clear, after checking the stored ciphertext against the record."""
    if receipt.status is Status.SHREDDED:
        raise ShreddedError("this receipt's retention ended and it was destroyed")
    if receipt.status is not Status.SEALED:
        raise ReceiptNotReady("this receipt is not sealed yet; try again shortly")
    assert receipt.sealed_object is not None
    assert receipt.sealed_version is not None
    blob = await ctx.store.get(receipt.sealed_object, receipt.sealed_version)
    if hashlib.sha256(blob).hexdigest() != receipt.sealed_cipher_sha256:
        raise IntegrityMismatch("the stored object does not match its record")
    key = await ctx.keys.unwrap(receipt.vault_subject, receipt.wrapped_key)
    return decrypt(key, blob, aad(receipt.receipt_id, receipt.user_id, "sealed"))


async def _journal(ctx: Context, receipt: Receipt, action: str, detail: dict[str, object]) -> None:
    async with ctx.uow() as uow:
        at = ctx.clock.now()
        await uow.journal.append(at, str(receipt.receipt_id), receipt.user_id, action, detail)
        await uow.commit()


async def read_sealed(ctx: Context, user_id: str, receipt_id: uuid.UUID) -> Document:
    receipt = await own_receipt(ctx, user_id, receipt_id)
    pdf = await load_sealed(ctx, receipt)
    await _journal(ctx, receipt, "read", {"by": "member"})
    return Document(receipt, pdf)


async def verify(
    ctx: Context, user_id: str, receipt_id: uuid.UUID
) -> tuple[Receipt, VerificationReport]:
    receipt = await own_receipt(ctx, user_id, receipt_id)
    pdf = await load_sealed(ctx, receipt)
    report = VerificationReport(
        check=await ctx.sealer.check(pdf),
        recorded_sha256=receipt.sealed_sha256 or "",
        actual_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    await _journal(ctx, receipt, "verified", {"ok": report.ok})
    return receipt, report
