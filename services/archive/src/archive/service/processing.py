"""Processing: a staged receipt is sealed, encrypted and stored under a retention lock.

Rules:
- Seal (PAdES B-LT, timestamped) → encrypt under the receipt's own key → write the sealed PDF
  and the original to the object store with a COMPLIANCE lock until the retention date → mark
  it sealed, drop the staged copies, journal it and publish `ReceiptSealed`, in one transaction.
- The receipt's row is locked while it is processed, so two workers never process it twice.
- Straight after intake the seal is already under way (started by `intake.accept`) and is
  awaited here; nothing goes to the store before the seal exists (a failed seal writes no
  locked object that a retry would write again); both objects are then written at once.
- If the vault, the TSA or the store fails, the receipt stays `received` (its ciphertexts
  staged) with a back-off retry time, and the scheduler tries again: nothing is lost, nothing
  is half-stored, nothing is stored in clear.
- A retry adopts what an interrupted attempt already stored (`recovery`): one sealed version
  and one original version per receipt, however often the process died on the way.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid

from common.errors import CoffreError
from common.events.archive import ReceiptSealed
from common.logging import get_logger

from archive.domain.encryption import decrypt, encrypt
from archive.domain.errors import IntegrityMismatch
from archive.domain.receipts import Receipt, Status, aad, object_key, retention_end
from archive.service import metrics
from archive.service.context import Context
from archive.service.intake import Accepted
from archive.service.ports import UnitOfWork
from archive.service.recovery import Stored, already_stored, put_once

log = get_logger(__name__)


async def process(ctx: Context, receipt_id: uuid.UUID, ready: Accepted | None = None) -> Status:
    """Seal and store one receipt; returns its status afterwards (received when retried later)."""
    receipt = await process_receipt(ctx, receipt_id, ready)
    return receipt.status if receipt is not None else Status.RECEIVED


async def process_receipt(
    ctx: Context, receipt_id: uuid.UUID, ready: Accepted | None = None
) -> Receipt | None:
    """Seal and store one receipt; returns it as stored afterwards (None: no such receipt)."""
    try:
        async with ctx.uow() as uow:
            receipt = await uow.receipts.get(receipt_id, lock=True)
            if receipt is None or receipt.status is not Status.RECEIVED:
                return receipt
            await _seal_and_store(ctx, uow, receipt, ready)
            await uow.commit()
        metrics.count("processing", "sealed")
        return receipt
    except CoffreError as exc:
        deferred = await _retry_later(ctx, receipt_id, exc.code)
        metrics.count("processing", "deferred")
        return deferred


async def _seal_and_store(
    ctx: Context, uow: UnitOfWork, receipt: Receipt, ready: Accepted | None
) -> None:
    rid, user = receipt.receipt_id, receipt.user_id
    if ready is not None:
        staged = {"original": ready.staged_original}
        key, pdf, sealing = ready.key, ready.pdf, ready.sealing
    else:
        staged = await uow.receipts.staged(rid)
        if "pdf" not in staged or "original" not in staged:
            raise IntegrityMismatch("the staged copies of this receipt are missing")
        key = await ctx.keys.unwrap(receipt.vault_subject, receipt.wrapped_key)
        pdf, sealing = decrypt(key, staged["pdf"], aad(rid, user, "pdf")), None
    resumed = Stored()
    if ready is None:  # a retry: an interrupted attempt may have stored objects already
        resumed = await already_stored(ctx, receipt, key, pdf, staged["original"])
    with metrics.timed("seal"):
        sealed = resumed.sealed
        if sealed is None:
            sealed = await (sealing if sealing is not None else ctx.sealer.seal(pdf))
    now = ctx.clock.now()
    until = retention_end(now, ctx.policy.retention_years)
    sealed_blob = resumed.sealed_blob or encrypt(key, sealed, aad(rid, user, "sealed"))
    sealed_key, original_key = object_key(rid, "sealed"), object_key(rid, "original")
    with metrics.timed("store"):
        receipt.sealed_version, receipt.original_version = await asyncio.gather(
            put_once(ctx, sealed_key, sealed_blob, until, resumed.sealed_version),
            put_once(ctx, original_key, staged["original"], until, resumed.original_version),
        )
    receipt.sealed_object, receipt.original_object = sealed_key, original_key
    receipt.sealed_cipher_sha256 = hashlib.sha256(sealed_blob).hexdigest()
    receipt.original_cipher_sha256 = hashlib.sha256(staged["original"]).hexdigest()
    receipt.sealed_sha256 = hashlib.sha256(sealed).hexdigest()
    receipt.sealed_size = len(sealed)
    receipt.mark_sealed(now, ctx.policy.retention_years, ctx.policy.archival_every)
    await uow.receipts.update(receipt)
    await uow.receipts.unstage(rid)
    detail = {"sha256": receipt.sealed_sha256, "retention_until": until.isoformat()}
    await uow.journal.append(now, str(rid), user, "sealed-and-stored", detail)
    uow.record(
        ReceiptSealed(
            receipt_id=str(rid),
            user_id=user,
            sha256=receipt.sealed_sha256,
            size=len(sealed),
            sealed_at=now,
            retention_until=until,
        ),
        subject=user,
        key=str(rid),
    )


async def _retry_later(ctx: Context, receipt_id: uuid.UUID, error: str) -> Receipt | None:
    p = ctx.policy
    async with ctx.uow() as uow:
        receipt = await uow.receipts.get(receipt_id, lock=True)
        if receipt is None or receipt.status is not Status.RECEIVED:
            return receipt
        receipt.mark_failed(error, ctx.clock.now(), p.retry_base_seconds, p.retry_cap_seconds)
        await uow.receipts.update(receipt)
        await uow.commit()
    log.warning(
        "receipt_processing_deferred",
        receipt_id=str(receipt_id),
        error=error,
        attempts=receipt.attempts,
    )
    return receipt


async def process_due(ctx: Context) -> int:
    """Process every receipt whose retry time has come; returns how many got sealed."""
    async with ctx.uow() as uow:
        due = await uow.receipts.due(ctx.clock.now(), ctx.policy.batch_size)
    sealed = 0
    for receipt_id in due:
        sealed += await process(ctx, receipt_id) is Status.SEALED
    return sealed
