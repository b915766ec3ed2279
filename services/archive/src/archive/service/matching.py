"""Matching receipts to the member's transactions and executed payments.

Rules: a new receipt looks among the member's unmatched movements, a new movement among the
member's unmatched receipts (see `archive.domain.matching`); a match is saved on both sides,
journaled and published as `ReceiptMatched` in the same transaction; a movement seen twice
(redelivery) changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from common.events.archive import ReceiptMatched

from archive.domain import matching
from archive.domain.matching import Candidate, Movement
from archive.domain.receipts import Receipt
from archive.service.context import Context
from archive.service.ports import Store


def candidate_of(receipt: Receipt) -> Candidate:
    h = receipt.hints
    return Candidate(
        receipt_id=str(receipt.receipt_id),
        user_id=receipt.user_id,
        transaction_ref=h.transaction_ref,
        payment_id=h.payment_id,
        amount=h.amount,
        currency=h.currency,
        on=h.spent_on or receipt.created_at.date(),
    )


async def _save(
    ctx: Context, uow: Store, receipt_id: str, user_id: str, movement: Movement, rule: str
) -> None:
    await uow.movements.mark_matched(movement.kind, movement.ref, receipt_id)
    receipt = await uow.receipts.get(uuid.UUID(receipt_id))
    if receipt is not None:
        receipt.matched_kind, receipt.matched_ref = movement.kind, movement.ref
        await uow.receipts.update(receipt)
    detail = {"kind": movement.kind, "ref": movement.ref, "rule": rule}
    await uow.journal.append(ctx.clock.now(), receipt_id, user_id, "matched", detail)
    kind: Literal["transaction", "payment"] = (
        "payment" if movement.kind == "payment" else "transaction"
    )
    uow.record(
        ReceiptMatched(
            receipt_id=receipt_id,
            user_id=user_id,
            kind=kind,
            ref=movement.ref,
            rule="link" if rule == "link" else "amount-and-date",
        ),
        subject=user_id,
        key=receipt_id,
    )


def _rule(candidate: Candidate, movement: Movement) -> str:
    return "link" if matching.linked(candidate, movement) else "amount-and-date"


async def match_new_receipt(ctx: Context, uow: Store, receipt: Receipt) -> None:
    candidate = candidate_of(receipt)
    movements = await uow.movements.unmatched(receipt.user_id)
    found = matching.pick_movement(candidate, movements, ctx.policy.match_window_days)
    if found is not None:
        await _save(ctx, uow, candidate.receipt_id, receipt.user_id, found, _rule(candidate, found))


async def match_new_movement(ctx: Context, uow: Store, movement: Movement) -> None:
    if not await uow.movements.add(movement):
        return
    candidates = await uow.receipts.candidates(movement.user_id)
    found = matching.pick_receipt(movement, candidates, ctx.policy.match_window_days)
    if found is not None:
        await _save(ctx, uow, found.receipt_id, movement.user_id, movement, _rule(found, movement))


def movement(kind: str, ref: str, user_id: str, amount: str, currency: str, on: date) -> Movement:
    return Movement(kind, ref, user_id, Decimal(amount), currency, on)
