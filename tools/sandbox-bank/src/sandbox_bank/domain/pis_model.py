"""Payment initiation records: standing payment consents (mandates) and credit transfers.

Rules kept here:
- A payment consent (mandate) is for one PSU and one debtor account, with a maximum per
  payment and a limit per period (calendar day, ISO week from Monday, or calendar month).
- A payment moves RCVD -> ACTC -> ACSC, or to RJCT with one reason; ACSC and RJCT are final.
- Amounts are `Decimal` with two decimals, strictly positive.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sandbox_bank.domain.model import ConsentStatus


class Frequency(StrEnum):
    """The period a payment consent's periodic limit applies to."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    def period(self, day: date) -> tuple[date, date]:
        """The first and last day of the period holding `day`."""
        if self is Frequency.DAY:
            return day, day
        if self is Frequency.WEEK:
            start = day - timedelta(days=day.weekday())
            return start, start + timedelta(days=6)
        start = day.replace(day=1)
        following = (start + timedelta(days=32)).replace(day=1)
        return start, following - timedelta(days=1)


class TransactionStatus(StrEnum):
    """ISO 20022 payment statuses the sandbox reports."""

    RECEIVED = "RCVD"
    ACCEPTED = "ACTC"
    SETTLED = "ACSC"
    REJECTED = "RJCT"


class RejectReason(StrEnum):
    """Why a payment was rejected (the code in its tppMessages)."""

    INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    CREDITOR_IBAN_INVALID = "CREDITOR_IBAN_INVALID"
    CONSENT_INVALID = "CONSENT_INVALID"


@dataclass(frozen=True)
class MandateTerms:
    """What a PSU grants a TPP: a debtor account, limits, duration, where to send the member."""

    debtor_iban: str
    currency: str
    max_per_payment: Decimal
    period_limit: Decimal
    frequency: Frequency
    valid_until: date
    redirect_uri: str
    nok_redirect_uri: str | None = None


@dataclass
class PaymentConsent:
    """A standing payment consent; its id is the secret the TPP presents as `Consent-ID`."""

    consent_id: str
    authorisation_id: str
    psu_id: str
    terms: MandateTerms
    created_at: datetime
    status: ConsentStatus = ConsentStatus.RECEIVED

    @property
    def redirect_uri(self) -> str:
        """Where the member goes back after approving."""
        return self.terms.redirect_uri

    @property
    def nok_redirect_uri(self) -> str | None:
        """Where the member goes back after refusing (default: redirect_uri)."""
        return self.terms.nok_redirect_uri


@dataclass(frozen=True)
class PaymentOrder:
    """A SEPA credit transfer as the TPP submitted it."""

    debtor_iban: str
    currency: str
    amount: Decimal
    creditor_name: str
    creditor_iban: str
    remittance: str | None
    end_to_end_id: str | None = None


@dataclass
class Payment:
    """A credit transfer at the bank and where it is in its lifecycle."""

    payment_id: str
    psu_id: str
    order: PaymentOrder
    consent_id: str | None
    received_at: datetime
    status: TransactionStatus = TransactionStatus.RECEIVED
    reason: RejectReason | None = None
    reason_text: str | None = None
    accepted_at: datetime | None = None
    accepted_on: date | None = None
    transaction_id: str | None = None
    debtor_account_id: str | None = None
    authorisation_id: str | None = None
    redirect_uri: str | None = None
    nok_redirect_uri: str | None = None
    awaiting_sca: bool = False

    @property
    def final(self) -> bool:
        """True once settled or rejected."""
        return self.status in (TransactionStatus.SETTLED, TransactionStatus.REJECTED)
