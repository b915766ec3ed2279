"""Matching receipts to the member's transactions and executed payments.

Rules: a new receipt looks among the member's unmatched movements, a new movement among the
member's unmatched receipts (see `archive.domain.matching`); a match is saved on both sides,
journaled and published as `ReceiptMatched` in the same transaction; a movement seen twice
(redelivery) changes nothing.
A batch of movements (the consumer's) gives the same matches as the same movements one by one,
in order: a receipt matched by an earlier movement of the batch is no longer a candidate for a
later one, a movement repeated in the batch counts once; it is read and written set-based.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Literal

from common.events.archive import ReceiptMatched

from archive.domain import matching
from archive.domain.journal import NewEntry
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
    detail = _detail(movement, rule)
    await uow.journal.append(ctx.clock.now(), receipt_id, user_id, "matched", detail)
    uow.record(_matched(receipt_id, movement, rule), subject=user_id, key=receipt_id)


def _detail(movement: Movement, rule: str) -> dict[str, str]:
    return {"kind": movement.kind, "ref": movement.ref, "rule": rule}


def _matched(receipt_id: str, movement: Movement, rule: str) -> ReceiptMatched:
    kind: Literal["transaction", "payment"] = (
        "payment" if movement.kind == "payment" else "transaction"
    )
    return ReceiptMatched(
        receipt_id=receipt_id,
        user_id=movement.user_id,
        kind=kind,
        ref=movement.ref,
        rule="link" if rule == "link" else "amount-and-date",
    )


def _rule(candidate: Candidate, movement: Movement) -> str:
    return "link" if matching.linked(candidate, movement) else "amount-and-date"


async def match_new_receipt(ctx: Context, uow: Store, receipt: Receipt) -> None:
    candidate = candidate_of(receipt)
    movements = await uow.movements.unmatched(receipt.user_id)
    found = matching.pick_movement(candidate, movements, ctx.policy.match_window_days)
    if found is not None:
        await _save(ctx, uow, candidate.receipt_id, receipt.user_id, found, _rule(candidate, found))


async def match_new_movements(ctx: Context, uow: Store, movements: list[Movement]) -> None:
    """Record the movements not seen before and match each, in order, to a member's receipt."""
    unique = _first_of_each(movements)
    added = await uow.movements.add_many(unique)
    fresh = [m for m in unique if (m.kind, m.ref) in added]
    if not fresh:
        return
    pool = await uow.receipts.candidates_of(sorted({m.user_id for m in fresh}))
    found: list[tuple[Candidate, Movement]] = []
    for m in fresh:
        mine = pool.get(m.user_id, [])
        hit = matching.pick_receipt(m, mine, ctx.policy.match_window_days)
        if hit is not None:
            mine.remove(hit)
            found.append((hit, m))
    if found:
        await _save_many(ctx, uow, found)


def _first_of_each(movements: list[Movement]) -> list[Movement]:
    seen: dict[tuple[str, str], Movement] = {}
    for m in movements:
        seen.setdefault((m.kind, m.ref), m)
    return list(seen.values())


async def _save_many(ctx: Context, uow: Store, found: list[tuple[Candidate, Movement]]) -> None:
    await uow.movements.mark_matched_many([(m.kind, m.ref, c.receipt_id) for c, m in found])
    await uow.receipts.set_matched_many([(c.receipt_id, m.kind, m.ref) for c, m in found])
    now = ctx.clock.now()
    entries = [
        NewEntry(now, c.receipt_id, m.user_id, "matched", _detail(m, _rule(c, m))) for c, m in found
    ]
    await uow.journal.append_many(entries)
    for c, m in found:
        uow.record(_matched(c.receipt_id, m, _rule(c, m)), subject=m.user_id, key=c.receipt_id)


def movement(kind: str, ref: str, user_id: str, amount: str, currency: str, on: date) -> Movement:
    return Movement(kind, ref, user_id, Decimal(amount), currency, on)
