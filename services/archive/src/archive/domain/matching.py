"""Attaching a receipt to the member's bank transaction or payment.

Rules, in order:
1. A link given at upload wins: the transaction reference or payment id named by the member.
2. Otherwise a receipt with an amount matches the member's one movement of the same absolute
   amount and currency whose date is within `window_days` of the receipt's date (the upload
   date when none was given); several candidates is ambiguous and matches none.
3. A receipt matches at most one movement, and a movement at most one receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


@dataclass(frozen=True)
class Movement:
    """A member's transaction (`transaction`) or executed payment (`payment`)."""

    kind: str
    ref: str
    user_id: str
    amount: Decimal
    currency: str
    on: date


@dataclass(frozen=True)
class Candidate:
    """An unmatched receipt, as matching sees it."""

    receipt_id: str
    user_id: str
    transaction_ref: str | None
    payment_id: str | None
    amount: Decimal | None
    currency: str | None
    on: date


def linked(receipt: Candidate, movement: Movement) -> bool:
    if movement.kind == "transaction":
        return receipt.transaction_ref == movement.ref
    return receipt.payment_id == movement.ref


def close_enough(receipt: Candidate, movement: Movement, window_days: int) -> bool:
    if receipt.amount is None or receipt.currency != movement.currency:
        return False
    if abs(receipt.amount) != abs(movement.amount):
        return False
    return abs((receipt.on - movement.on).days) <= window_days


def pick_movement(
    receipt: Candidate, movements: list[Movement], window_days: int
) -> Movement | None:
    """The movement this receipt belongs to, or None (no or several candidates)."""
    mine = [m for m in movements if m.user_id == receipt.user_id]
    for m in mine:
        if linked(receipt, m):
            return m
    if receipt.transaction_ref or receipt.payment_id:
        return None
    found = [m for m in mine if close_enough(receipt, m, window_days)]
    return found[0] if len(found) == 1 else None


def pick_receipt(
    movement: Movement, receipts: list[Candidate], window_days: int
) -> Candidate | None:
    """The unmatched receipt this new movement belongs to, or None."""
    mine = [r for r in receipts if r.user_id == movement.user_id]
    for r in mine:
        if linked(r, movement):
            return r
    free = [r for r in mine if not (r.transaction_ref or r.payment_id)]
    found = [r for r in free if close_enough(r, movement, window_days)]
    return found[0] if len(found) == 1 else None
