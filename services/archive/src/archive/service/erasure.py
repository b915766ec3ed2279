"""Erasure versus retention.

Rules:
- On `ErasureRequested` everything archive keeps about the member that no law requires is
  erased at once: their receipts address, their verified senders, the movements kept for
  matching and their uploads' idempotency keys. Receipts are accounting records the law
  requires us to keep for ten years: each one stays, locked, until its retention date, flagged
  for shredding.
- The `ErasureCompleted` proof lists every receipt that remains and until when, and the
  journal's head after the erasure was written.
- A scheduled job shreds each flagged receipt once its retention date has passed: its key is
  destroyed in the vault (crypto-shredding: the locked ciphertext can never be read again) and
  its wrapped key dropped here; `ReceiptShredded` is published.
- Erasing twice is harmless.
"""

from __future__ import annotations

from common.events.archive import ReceiptShredded
from common.events.erasure import ErasureCompleted
from common.logging import get_logger

from archive.domain.receipts import Status
from archive.service.context import Context
from archive.service.ports import Store

log = get_logger(__name__)
SERVICE = "archive"


async def erase_member(ctx: Context, uow: Store, user_id: str, request_id: str) -> None:
    """Erase what is not under a legal obligation; flag receipts for shredding at retention end."""
    now = ctx.clock.now()
    addresses = await uow.members.erase(user_id)
    movements = await uow.movements.erase(user_id)
    upload_keys = await uow.upload_keys.erase(user_id)
    receipts = await uow.receipts.mark_erasure(user_id, now)
    kept = [r for r in receipts if r.status is not Status.SHREDDED]
    retained = [
        f"{r.receipt_id}@{r.retention_until.isoformat() if r.retention_until else 'pending-seal'}"
        for r in kept
    ]
    detail = {"request_id": request_id, "retained": len(kept)}
    entry = await uow.journal.append(now, None, user_id, "erasure", detail)
    proof: dict[str, str | int | list[str]] = {
        "retained_receipts": retained,
        "retained_count": len(kept),
        "retention_reason": "accounting records: legal retention, then crypto-shredded",
        "addresses_erased": addresses,
        "movements_erased": movements,
        "upload_keys_erased": upload_keys,
        "erased_at": now.isoformat(),
        "journal_seq": entry.seq,
        "journal_hash": entry.hash.hex(),
    }
    uow.record(
        ErasureCompleted(
            user_id=user_id, request_id=request_id, service=SERVICE, completed_at=now, proof=proof
        ),
        subject=user_id,
    )


async def shred_due(ctx: Context) -> int:
    """Crypto-shred every flagged receipt whose retention has ended; returns how many."""
    async with ctx.uow() as uow:
        due = await uow.receipts.shreddable(ctx.clock.now(), ctx.policy.batch_size)
    done = 0
    for receipt_id in due:
        async with ctx.uow() as uow:
            receipt = await uow.receipts.get(receipt_id, lock=True)
            now = ctx.clock.now()
            if receipt is None or not receipt.shreddable(now):
                continue
            await ctx.keys.destroy(receipt.vault_subject)
            receipt.status, receipt.shredded_at, receipt.wrapped_key = Status.SHREDDED, now, b""
            await uow.receipts.update(receipt)
            rid = str(receipt_id)
            await uow.journal.append(now, rid, receipt.user_id, "shredded", {})
            uow.record(
                ReceiptShredded(receipt_id=rid, user_id=receipt.user_id, shredded_at=now),
                subject=receipt.user_id,
                key=rid,
            )
            await uow.commit()
            done += 1
    return done
