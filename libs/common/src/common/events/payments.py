"""Payment events (owned by the payments service; the fraud service consumes them).

Rules: amounts travel as decimal strings (never floats); the payee is an opaque reference
(a hash), never a full IBAN; changes are additive, a breaking change is a new version.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from common.events.base import Event, event

_IBAN_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def looks_like_iban(value: str) -> bool:
    """True when ``value`` has the shape of a full IBAN (spaces ignored, any case)."""
    return bool(_IBAN_SHAPE.match(value.replace(" ", "").upper()))


@event("payments.payment-initiated", 1)
class PaymentInitiated(Event):
    """A member asked for a payment; fraud scores it before payments executes it.

    The envelope's subject is the member (user id) who initiated it.
    """

    payment_id: str = Field(min_length=1, max_length=64, description="Payment identifier.")
    account_ref: str = Field(
        min_length=1, max_length=128, description="Opaque reference of the debited account."
    )
    amount: str = Field(
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$",
        description="Amount as a positive decimal string in major units, e.g. '12.50'.",
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
    payee_ref: str = Field(
        min_length=8,
        max_length=128,
        description="Opaque reference of the payee (a keyed hash), never a full IBAN.",
    )
    initiated_at: datetime = Field(description="When the member initiated the payment (UTC).")
    device_id: str | None = Field(
        default=None, max_length=128, description="Device the member used, when known."
    )

    @field_validator("payee_ref", "account_ref")
    @classmethod
    def _no_full_iban(cls, value: str) -> str:
        if looks_like_iban(value):
            raise ValueError("must be an opaque reference, not a full IBAN")
        return value


@event("payments.payment-executed", 1)
class PaymentExecuted(Event):
    """The member's bank executed a payment (status ACSC): money left the debtor account.

    The envelope's subject is the member (user id) who initiated it; the key is the payment id.
    """

    payment_id: str = Field(min_length=1, max_length=64, description="Payment identifier.")
    kind: Literal["payment", "deposit", "withdrawal"] = Field(
        description="What the member asked for: a payment, a deposit or a withdrawal."
    )
    account_ref: str = Field(
        min_length=1, max_length=128, description="Opaque reference of the debited account."
    )
    amount: str = Field(
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$",
        description="Amount as a positive decimal string in major units, e.g. '12.50'.",
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
    payee_ref: str = Field(
        min_length=8,
        max_length=128,
        description="Opaque reference of the payee (a keyed hash), never a full IBAN.",
    )
    executed_at: datetime = Field(description="When the bank reported the execution (UTC).")

    @field_validator("payee_ref", "account_ref")
    @classmethod
    def _no_full_iban(cls, value: str) -> str:
        if looks_like_iban(value):
            raise ValueError("must be an opaque reference, not a full IBAN")
        return value
