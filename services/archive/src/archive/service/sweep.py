"""The integrity sweep: re-read a sample of stored receipts and prove they are unchanged.

Rules: for each sampled sealed receipt, both stored objects are read back and their hashes
compared with the record; the sealed PDF is decrypted, its hash compared and its seal
re-validated. Any difference raises `ReceiptIntegrityFailed` and an error log line, and is
journaled. A store or vault outage is not a mismatch: the sweep stops and tries next time.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from common.errors import CoffreError
from common.events.archive import ReceiptIntegrityFailed
from common.logging import get_logger

from archive.domain.errors import IntegrityMismatch, ServiceUnavailable, StoreUnavailable
from archive.domain.receipts import Receipt
from archive.service.context import Context
from archive.service.retrieval import load_sealed

log = get_logger(__name__)


async def _problem(
    ctx: Context, receipt: Receipt
) -> tuple[Literal["sealed", "original"], str] | None:
    assert receipt.original_object is not None
    assert receipt.original_version is not None
    try:
        original = await ctx.store.get(receipt.original_object, receipt.original_version)
    except StoreUnavailable:
        raise
    except CoffreError:
        return "original", "missing"
    if hashlib.sha256(original).hexdigest() != receipt.original_cipher_sha256:
        return "original", "hash-mismatch"
    try:
        pdf = await load_sealed(ctx, receipt)
    except IntegrityMismatch:
        return "sealed", "hash-mismatch"
    if hashlib.sha256(pdf).hexdigest() != receipt.sealed_sha256:
        return "sealed", "hash-mismatch"
    check = await ctx.sealer.check(pdf)
    if not (check.intact and check.valid and check.trusted):
        return "sealed", "seal-invalid"
    return None


async def sweep(ctx: Context, sample: int) -> tuple[int, int]:
    """Check `sample` random sealed receipts; returns (checked, mismatches)."""
    async with ctx.uow() as uow:
        receipts = await uow.receipts.sample_sealed(sample)
    checked = failed = 0
    for receipt in receipts:
        try:
            found = await _problem(ctx, receipt)
        except ServiceUnavailable as exc:
            log.warning("integrity_sweep_interrupted", error=exc.code)
            break
        checked += 1
        if found is not None:
            failed += 1
            await _report(ctx, receipt, *found)
    log.info("integrity_sweep_done", checked=checked, mismatches=failed)
    return checked, failed


async def _report(
    ctx: Context, receipt: Receipt, part: Literal["sealed", "original"], problem: str
) -> None:
    rid, now = str(receipt.receipt_id), ctx.clock.now()
    log.error("receipt_integrity_failed", receipt_id=rid, part=part, problem=problem)
    async with ctx.uow() as uow:
        detail = {"part": part, "problem": problem}
        await uow.journal.append(now, rid, receipt.user_id, "integrity-failed", detail)
        uow.record(
            ReceiptIntegrityFailed(
                receipt_id=rid,
                user_id=receipt.user_id,
                part=part,
                problem=problem,
                detected_at=now,
            ),
            subject=receipt.user_id,
            key=rid,
        )
        await uow.commit()
