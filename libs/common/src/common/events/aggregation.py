"""Aggregation events: bank transactions as the member's bank reports them, minimised.

Rules: a transaction event carries only the label, the booking date, the signed amount, the
currency, the booking status and opaque references (keyed hashes) of the account and of the
bank's transaction id — never an IBAN, a balance, a counterparty account or a consent token.
Transaction events are keyed by ``account_ref`` so one account's events stay in order.
Amounts travel as decimal strings. Changes are additive; a breaking change is a new version.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Literal

from pydantic import Field, field_validator

from common.events.base import Event, event

AMOUNT_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"
_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")

BookingStatus = Literal["booked", "pending"]


def _opaque(value: str) -> str:
    if _IBAN_SHAPE.fullmatch(value.replace(" ", "").upper()):
        raise ValueError("must be an opaque reference, not an IBAN")
    return value


class _TransactionFacts(Event):
    """The minimised facts of one bank transaction."""

    user_id: str = Field(min_length=1, max_length=128, description="Opaque id of the member.")
    account_ref: str = Field(
        min_length=8,
        max_length=64,
        description="Opaque reference of the member's bank account (a keyed hash).",
    )
    transaction_ref: str = Field(
        min_length=8,
        max_length=64,
        description="Opaque reference of the transaction: a keyed hash of the bank's id.",
    )
    label: str = Field(max_length=140, description="The transaction's label on the statement.")
    booking_date: date = Field(
        description="Booking date; while pending, the value date the bank reports."
    )
    amount: str = Field(
        pattern=AMOUNT_PATTERN,
        description="Signed amount as a decimal string: negative when money leaves the account.",
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
    status: BookingStatus = Field(description="'booked', or 'pending' until the bank books it.")

    @field_validator("account_ref", "transaction_ref")
    @classmethod
    def _no_iban(cls, value: str) -> str:
        return _opaque(value)


@event("aggregation.transaction-ingested", 1)
class TransactionIngested(_TransactionFacts):
    """A transaction seen for the first time on a member's linked bank account."""


@event("aggregation.transaction-updated", 1)
class TransactionUpdated(_TransactionFacts):
    """A known transaction changed at the bank (a pending one booked, or its amount moved)."""

    previous_status: BookingStatus = Field(description="The status before this change.")


@event("aggregation.consent-expiring", 1)
class ConsentExpiring(Event):
    """A member's bank consent ends soon; they must renew it to keep their transactions flowing."""

    user_id: str = Field(min_length=1, max_length=128, description="Opaque id of the member.")
    connection_id: str = Field(description="Id of the bank connection whose consent expires.")
    expires_on: date = Field(description="Last day the consent is valid.")
    days_left: int = Field(ge=0, description="Days from today until the consent expires.")
