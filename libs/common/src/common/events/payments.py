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


class _PaymentFacts(Event):
    """What every payment event says of the money: who pays, how much, to whom (opaquely)."""

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

    @field_validator("payee_ref", "account_ref")
    @classmethod
    def _no_full_iban(cls, value: str) -> str:
        if looks_like_iban(value):
            raise ValueError("must be an opaque reference, not a full IBAN")
        return value


@event("payments.payment-initiated", 1)
class PaymentInitiated(_PaymentFacts):
    """A member asked for a payment; fraud scores it before payments executes it.

    The envelope's subject is the member (user id) who initiated it; the key is the debited
    account's reference (``account_ref``), as for ``TransactionIngested``, so an account's
    payments and bank transactions share a partition number and reach one fraud replica.
    """

    initiated_at: datetime = Field(description="When the member initiated the payment (UTC).")
    device_id: str | None = Field(
        default=None, max_length=128, description="Device the member used, when known."
    )


@event("payments.payment-executed", 1)
class PaymentExecuted(_PaymentFacts):
    """The member's bank executed a payment (status ACSC): money left the debtor account.

    The envelope's subject is the member (user id) who initiated it; the key is the payment id.
    """

    kind: Literal["payment", "deposit", "withdrawal"] = Field(
        description="What the member asked for: a payment, a deposit or a withdrawal."
    )
    executed_at: datetime = Field(description="When the bank reported the execution (UTC).")


PaymentState = Literal[
    "awaiting_authorisation",
    "authorised",
    "screening",
    "held",
    "cleared",
    "submitting",
    "submitted",
    "executed",
    "rejected",
    "cancelled",
    "expired",
]
ActorKind = Literal["member", "fraud", "analyst", "bank", "system", "auth"]


class PaymentTransition(Event):
    """One step of a payment's life, with its author (the audit trail of the payment).

    The envelope's subject is the member (user id) the payment belongs to; the key is the
    payment id. Never a full IBAN, a token or a code.
    """

    payment_id: str = Field(min_length=1, max_length=64, description="Payment identifier.")
    state: PaymentState = Field(description="State the payment is in after this step.")
    previous_state: PaymentState | None = Field(
        default=None, description="State before this step (none on creation)."
    )
    actor_kind: ActorKind = Field(description="Who made this step happen.")
    actor_id: str | None = Field(
        default=None, max_length=128, description="The member, analyst or service that acted."
    )
    session_id: str | None = Field(
        default=None, max_length=64, description="The member's session, when a member acted."
    )
    device_id: str | None = Field(
        default=None, max_length=128, description="The member's device, when known."
    )
    authorisation_id: str | None = Field(
        default=None, max_length=128, description="Step-up authorisation id (jti) used."
    )
    decision: str | None = Field(
        default=None, max_length=32, description="Fraud decision or bank status behind it."
    )
    reason: str | None = Field(
        default=None, max_length=64, description="Stable reason code of a refusal or end."
    )
    at: datetime = Field(description="When the step happened (UTC).")


@event("payments.payment-created", 1)
class PaymentCreated(PaymentTransition):
    """A member created a payment; it waits for a step-up authorisation."""

    kind: Literal["payment", "deposit", "withdrawal"] = Field(description="What kind of payment.")
    account_ref: str = Field(max_length=128, description="Opaque ref of the debited account.")
    amount: str = Field(
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$", description="Amount in major units, e.g. '12.50'."
    )
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code.")
    payee_ref: str = Field(
        min_length=8, max_length=128, description="Keyed hash of the payee, never a full IBAN."
    )

    @field_validator("payee_ref", "account_ref")
    @classmethod
    def _no_full_iban(cls, value: str) -> str:
        if looks_like_iban(value):
            raise ValueError("must be an opaque reference, not a full IBAN")
        return value


@event("payments.payment-authorised", 1)
class PaymentAuthorised(PaymentTransition):
    """The member authorised the payment with a step-up code bound to its amount and payee."""


@event("payments.payment-held", 1)
class PaymentHeld(PaymentTransition):
    """Fraud holds the payment for an analyst; it waits for the analyst's decision."""


@event("payments.payment-cleared", 1)
class PaymentCleared(PaymentTransition):
    """Fraud allowed the payment (or an analyst released it): it may go to the bank."""


@event("payments.payment-submission-started", 1)
class PaymentSubmissionStarted(PaymentTransition):
    """The payment is being sent to the bank under its stable request id."""


@event("payments.payment-submitted", 1)
class PaymentSubmitted(PaymentTransition):
    """The bank accepted the payment for processing."""


@event("payments.payment-rejected", 1)
class PaymentRejected(PaymentTransition):
    """The payment ended without money moving: fraud, an analyst or the bank refused it."""


@event("payments.payment-cancelled", 1)
class PaymentCancelled(PaymentTransition):
    """The payment was cancelled before reaching the bank (member, logout or erasure)."""


@event("payments.payment-expired", 1)
class PaymentExpired(PaymentTransition):
    """The payment was not authorised in time."""


@event("payments.payment-consent-granted", 1)
class PaymentConsentGranted(Event):
    """A member granted a standing payment consent at their bank (subject: the member)."""

    consent_id: str = Field(max_length=64, description="Coffre's id of the payment consent.")
    account_ref: str = Field(max_length=128, description="Opaque ref of the debtor account.")
    valid_until: datetime = Field(description="When the consent lapses (UTC).")
    granted_at: datetime = Field(description="When the bank reported it valid (UTC).")


@event("payments.payment-consent-ended", 1)
class PaymentConsentEnded(Event):
    """A payment consent ended: revoked by the member, expired, refused or erased."""

    consent_id: str = Field(max_length=64, description="Coffre's id of the payment consent.")
    reason: Literal["revoked", "expired", "rejected", "erased", "bank-ended"] = Field(
        description="Why it ended."
    )
    ended_at: datetime = Field(description="When it ended (UTC).")
