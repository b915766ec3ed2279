"""Payment consents (mandates): creation, SCA, status and what a payment may use of them.

Rules (callers hold the bank's lock):
- A payment consent id is 43 url-safe random characters from `secrets` (the TPP's bearer
  secret); SCA goes through a separate random authorisation id, as for AIS consents.
- validUntil must not be in the past and is capped at `max_days` from today; past it, a live
  consent is `expired`.
- A payment may use a consent only while it is `valid`, for the consent's PSU and debtor
  account, in its currency; otherwise the payment is rejected CONSENT_INVALID.
- A payment above the per-payment maximum, or that would take the amount used in the current
  period (accepted and settled payments under the consent) above the periodic limit, is
  rejected LIMIT_EXCEEDED.
"""

import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from sandbox_bank.domain.errors import ConsentUnknown, FormatError
from sandbox_bank.domain.model import ConsentStatus
from sandbox_bank.domain.pis_model import (
    MandateTerms,
    Payment,
    PaymentConsent,
    PaymentOrder,
    TransactionStatus,
)

LIVE = (ConsentStatus.RECEIVED, ConsentStatus.VALID)
USING = (TransactionStatus.ACCEPTED, TransactionStatus.SETTLED)


class MandateRegistry:
    """Payment consents by id and by authorisation id."""

    def __init__(self, max_days: int) -> None:
        self._max_days = max_days
        self._by_id: dict[str, PaymentConsent] = {}
        self._by_authorisation: dict[str, PaymentConsent] = {}

    def create(self, psu_id: str, terms: MandateTerms, now: datetime) -> PaymentConsent:
        """A new payment consent in status `received`, waiting for the member's SCA."""
        today = now.date()
        if terms.valid_until < today:
            raise FormatError("validUntil is in the past")
        capped = min(terms.valid_until, today + timedelta(days=self._max_days))
        consent = PaymentConsent(
            consent_id=secrets.token_urlsafe(32),
            authorisation_id=secrets.token_urlsafe(16),
            psu_id=psu_id,
            terms=replace(terms, valid_until=capped),
            created_at=now,
        )
        self._by_id[consent.consent_id] = consent
        self._by_authorisation[consent.authorisation_id] = consent
        return consent

    def find(self, consent_id: str, today: date) -> PaymentConsent | None:
        """The consent with its status brought up to date, or None."""
        consent = self._by_id.get(consent_id)
        if consent is not None and consent.status in LIVE and today > consent.terms.valid_until:
            consent.status = ConsentStatus.EXPIRED
        return consent

    def get(self, consent_id: str, today: date) -> PaymentConsent:
        """The consent, or CONSENT_UNKNOWN."""
        consent = self.find(consent_id, today)
        if consent is None:
            raise ConsentUnknown("no payment consent with this id")
        return consent

    def by_authorisation(self, authorisation_id: str, today: date) -> PaymentConsent | None:
        """The consent an SCA link belongs to, or None."""
        consent = self._by_authorisation.get(authorisation_id)
        return None if consent is None else self.get(consent.consent_id, today)


def invalidity(consent: PaymentConsent | None, psu_id: str, order: PaymentOrder) -> str | None:
    """Why the consent cannot carry the order (CONSENT_INVALID), or None if it can."""
    if consent is None or consent.status != ConsentStatus.VALID:
        state = "unknown" if consent is None else consent.status.value
        return f"the payment consent is {state}"
    if consent.psu_id != psu_id or consent.terms.debtor_iban != order.debtor_iban:
        return "the payment consent does not cover this PSU and debtor account"
    if consent.terms.currency != order.currency:
        return f"the payment consent does not cover payments in {order.currency}"
    return None


def limit_breach(consent: PaymentConsent, order: PaymentOrder, used: Decimal) -> str | None:
    """Which limit of the consent the order breaks (LIMIT_EXCEEDED), or None."""
    terms = consent.terms
    if order.amount > terms.max_per_payment:
        return "the amount is above the payment consent's maximum per payment"
    if used + order.amount > terms.period_limit:
        return f"the amount would exceed the payment consent's limit per {terms.frequency.value}"
    return None


def used_in_period(consent: PaymentConsent, payments: list[Payment], today: date) -> Decimal:
    """What accepted and settled payments under the consent used in the current period."""
    start, end = consent.terms.frequency.period(today)
    return sum(
        (
            p.order.amount
            for p in payments
            if p.consent_id == consent.consent_id
            and p.status in USING
            and p.accepted_on is not None
            and start <= p.accepted_on <= end
        ),
        Decimal("0.00"),
    )
