"""Minimised transactions and how a fresh bank read reconciles with what we hold.

Rules:
- We keep of a bank transaction its label, date, signed amount, currency, booking status and
  an opaque reference; nothing else survives the parse (no IBAN, balance, bank codes, ids).
- A label never carries an account or card number: IBAN-shaped and long digit runs are masked.
- One transaction is held once per account (de-duplicated by its reference, itself a keyed hash
  of the bank's transaction id). Seen again unchanged, it changes nothing.
- pending → booked updates the held transaction in place (never a second one); a booked
  transaction never goes back to pending. Any other change in amount, label or date is an update.
- A pending transaction missing from a complete read that covers its date was dropped by the
  bank: it is removed. Partial reads never remove anything.
- A removed transaction that the bank reports again is added afresh.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

LABEL_MAX = 140
_IBAN_RUN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d){11,}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class TxStatus(StrEnum):
    BOOKED = "booked"
    PENDING = "pending"


def clean_label(raw: str) -> str:
    """The label as we store it: one line, no account or card numbers, at most 140 chars."""
    text = _CONTROL.sub(" ", raw)
    text = _IBAN_RUN.sub("[account]", text)
    text = _DIGIT_RUN.sub("[number]", text)
    return " ".join(text.split())[:LABEL_MAX]


@dataclass(frozen=True)
class MinimalTransaction:
    """What we keep of one bank transaction."""

    transaction_ref: str
    status: TxStatus
    booking_date: date
    amount: Decimal
    currency: str
    label: str

    def same_facts(self, other: MinimalTransaction) -> bool:
        return (self.status, self.booking_date, self.amount, self.currency, self.label) == (
            other.status,
            other.booking_date,
            other.amount,
            other.currency,
            other.label,
        )


@dataclass(frozen=True)
class StoredTransaction:
    """A transaction as held for a member, with its place in the member's change feed."""

    facts: MinimalTransaction
    account_ref: str
    user_id: str
    version: int
    created_version: int
    removed: bool = False

    @property
    def transaction_ref(self) -> str:
        return self.facts.transaction_ref


@dataclass
class Changes:
    added: list[MinimalTransaction] = field(default_factory=list)
    modified: list[tuple[StoredTransaction, MinimalTransaction]] = field(default_factory=list)
    removed: list[StoredTransaction] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.added) + len(self.modified) + len(self.removed)


def deduplicate(incoming: Iterable[MinimalTransaction]) -> list[MinimalTransaction]:
    """One item per reference; when a read holds both states of one transaction, booked wins."""
    chosen: dict[str, MinimalTransaction] = {}
    for tx in incoming:
        seen = chosen.get(tx.transaction_ref)
        if seen is None or (seen.status is TxStatus.PENDING and tx.status is TxStatus.BOOKED):
            chosen[tx.transaction_ref] = tx
    return list(chosen.values())


def reconcile(
    held: Mapping[str, StoredTransaction],
    incoming: Sequence[MinimalTransaction],
    *,
    pending_in_window: Iterable[StoredTransaction] = (),
    complete: bool = False,
) -> Changes:
    """What a read changes: `held` are our rows for the incoming references (removed ones too);
    `pending_in_window` our pending rows dated inside the read's window."""
    changes = Changes()
    fresh = deduplicate(incoming)
    for tx in fresh:
        old = held.get(tx.transaction_ref)
        if old is None or old.removed:
            changes.added.append(tx)
        elif _is_update(old.facts, tx):
            changes.modified.append((old, tx))
    if complete:
        seen = {tx.transaction_ref for tx in fresh}
        changes.removed = [
            row
            for row in pending_in_window
            if not row.removed
            and row.facts.status is TxStatus.PENDING
            and row.transaction_ref not in seen
        ]
    return changes


def _is_update(old: MinimalTransaction, new: MinimalTransaction) -> bool:
    if old.status is TxStatus.BOOKED and new.status is TxStatus.PENDING:
        return False
    return not old.same_facts(new)
