"""Payment initiation: payment consents, credit transfers and their lifecycle (no HTTP).

Rules (every method runs under the bank's lock and never awaits):
- A payment submitted again with the same X-Request-ID and the same request (fingerprint)
  is the first payment again, never a second one; with another request it is FORMAT_ERROR.
- A payment under a payment consent needs no SCA; without one it waits in RCVD for the
  member's SCA at the bank (denied: RJCT CONSENT_INVALID).
- Acceptance (RCVD -> ACTC) checks, in order: the consent (CONSENT_INVALID), the creditor
  IBAN (CREDITOR_IBAN_INVALID), the consent's limits (LIMIT_EXCEEDED), the debtor account's
  amount available for payments (INSUFFICIENT_FUNDS); an accepted payment reserves its amount.
- Settlement (ACTC -> ACSC) happens `settle_delay` of sandbox time after acceptance, unless a
  `stuck-actc` fault is planned; it books a negative transaction on the debtor account.
- Payments progress whenever the bank is asked anything about payments or transactions, so
  with no delay a payment is settled by the first read after its submission.
- The amount available for payments is never part of any AIS answer.
"""

import copy
import functools
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Concatenate, ParamSpec, TypeVar

from sandbox_bank.domain import mandates
from sandbox_bank.domain import settlement as settle
from sandbox_bank.domain.clock import SandboxClock
from sandbox_bank.domain.consents import decide, end
from sandbox_bank.domain.errors import ConsentUnknown, FormatError, ResourceUnknown
from sandbox_bank.domain.ledger import Ledger
from sandbox_bank.domain.model import Account, ConsentStatus
from sandbox_bank.domain.pis_model import (
    MandateTerms,
    Payment,
    PaymentConsent,
    PaymentOrder,
)

P = ParamSpec("P")
R = TypeVar("R")


def locked(
    method: Callable[Concatenate["PaymentInitiation", P], R],
) -> Callable[Concatenate["PaymentInitiation", P], R]:
    """Run the method under the bank's lock."""

    @functools.wraps(method)
    def wrapper(self: "PaymentInitiation", /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.lock:
            return method(self, *args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Submission:
    """A credit transfer request: who asks, under which consent, and how to recognise it."""

    request_id: str
    fingerprint: str
    psu_id: str
    order: PaymentOrder
    consent_id: str | None
    redirect_uri: str | None = None
    nok_redirect_uri: str | None = None


@dataclass(frozen=True)
class MandateView:
    """A payment consent with what it used in the current period."""

    consent: PaymentConsent
    used: Decimal
    period: tuple[date, date]


class PaymentInitiation:
    """Payment consents and payments, sharing the bank's ledger, clock and lock."""

    def __init__(
        self,
        *,
        lock: threading.RLock,
        ledger: Ledger,
        clock: SandboxClock,
        accounts_of: Callable[[str], list[Account]],
        stuck: Callable[[], bool],
        max_days: int,
        settle_delay: timedelta,
        default_available: Decimal,
    ) -> None:
        self.lock = lock
        self._ledger = ledger
        self._clock = clock
        self._accounts_of = accounts_of
        self._mandates = mandates.MandateRegistry(max_days)
        self._desk = settle.SettlementDesk(ledger, stuck, settle_delay, default_available)
        self._payments: dict[str, Payment] = {}
        self._by_request: dict[str, tuple[str, str]] = {}
        self._by_authorisation: dict[str, Payment] = {}

    # --- payment consents ---------------------------------------------------------------------

    @locked
    def create_consent(self, psu_id: str, terms: MandateTerms) -> PaymentConsent:
        """A payment consent for one of the PSU's own accounts, in its currency."""
        account = self._own_account(psu_id, terms.debtor_iban)
        if terms.currency != account.currency:
            raise FormatError(f"the debtor account is held in {account.currency}")
        return copy.copy(self._mandates.create(psu_id, terms, self._clock.now()))

    @locked
    def consent(self, psu_id: str, consent_id: str) -> MandateView:
        """The PSU's payment consent, its use in the current period and that period."""
        consent = self._owned(psu_id, consent_id)
        today = self._clock.today()
        used = mandates.used_in_period(consent, self._under(consent_id), today)
        return MandateView(copy.copy(consent), used, consent.terms.frequency.period(today))

    @locked
    def authorise_consent(self, psu_id: str, consent_id: str, approve: bool) -> PaymentConsent:
        """Headless SCA of a payment consent."""
        return copy.copy(decide(self._owned(psu_id, consent_id), approve))

    @locked
    def end_consent(
        self, psu_id: str | None, consent_id: str, status: ConsentStatus
    ) -> ConsentStatus:
        """End a live payment consent (TPP termination, PSU revocation, expiry); its status."""
        if psu_id is None:
            consent = self._mandates.get(consent_id, self._clock.today())
        else:
            consent = self._owned(psu_id, consent_id)
        end(consent, status)
        return consent.status

    @locked
    def sca_target(self, authorisation_id: str, approve: bool) -> PaymentConsent | Payment | None:
        """Record the member's SCA decision on a payment consent or payment; None if unknown."""
        consent = self._mandates.by_authorisation(authorisation_id, self._clock.today())
        if consent is not None:
            return copy.copy(decide(consent, approve))
        payment = self._by_authorisation.get(authorisation_id)
        if payment is None:
            return None
        settle.decide_payment(payment, approve)
        return copy.copy(payment)

    # --- payments -----------------------------------------------------------------------------

    @locked
    def submit(self, submission: Submission) -> Payment:
        """The payment for this request: a new one, or the first one for a repeated request."""
        self.progress()
        known = self._by_request.get(submission.request_id)
        if known is not None:
            fingerprint, payment_id = known
            if fingerprint != submission.fingerprint:
                raise FormatError("X-Request-ID was already used for another payment request")
            return copy.copy(self._payments[payment_id])
        payment = self._new_payment(submission)
        self._payments[payment.payment_id] = payment
        self._by_request[submission.request_id] = (submission.fingerprint, payment.payment_id)
        self._desk.open(payment)
        return copy.copy(payment)

    @locked
    def payment(self, psu_id: str, payment_id: str) -> Payment:
        """The PSU's payment, brought up to date."""
        return copy.copy(self._owned_payment(psu_id, payment_id))

    @locked
    def authorise_payment(self, psu_id: str, payment_id: str, approve: bool) -> Payment:
        """Headless SCA of a payment submitted without a payment consent."""
        payment = self._owned_payment(psu_id, payment_id)
        settle.decide_payment(payment, approve)
        self.progress()
        return copy.copy(payment)

    @locked
    def progress(self) -> None:
        """Move every open payment as far as sandbox time and planned faults allow."""
        now = self._clock.now()
        self._desk.progress(now, self._consent_check)

    # --- funds --------------------------------------------------------------------------------

    @locked
    def available(self, account_id: str) -> Decimal:
        """The account's amount available for payments."""
        self.progress()
        return self._desk.available(self._ledger.account(account_id))

    @locked
    def set_available(self, account_id: str, amount: Decimal) -> Decimal:
        """Set the account's amount available for payments (not below zero)."""
        if amount < 0:
            raise FormatError("the amount available for payments cannot be negative")
        self.progress()
        return self._desk.set_available(self._ledger.account(account_id), amount)

    # --- internals ----------------------------------------------------------------------------

    def _new_payment(self, submission: Submission) -> Payment:
        payment = Payment(
            payment_id=secrets.token_urlsafe(16),
            psu_id=submission.psu_id,
            order=submission.order,
            consent_id=submission.consent_id,
            received_at=self._clock.now(),
        )
        if submission.consent_id is None:
            if submission.redirect_uri is None:
                raise FormatError("Consent-ID or TPP-Redirect-URI is required")
            self._own_account(submission.psu_id, submission.order.debtor_iban)
            payment.authorisation_id = secrets.token_urlsafe(16)
            payment.redirect_uri = submission.redirect_uri
            payment.nok_redirect_uri = submission.nok_redirect_uri
            payment.awaiting_sca = True
            self._by_authorisation[payment.authorisation_id] = payment
        return payment

    def _consent_check(self, payment: Payment, today: date) -> settle.Verdict:
        if payment.consent_id is None:
            return settle.Verdict(self._debtor(payment), None, None)
        consent = self._mandates.find(payment.consent_id, today)
        invalid = mandates.invalidity(consent, payment.psu_id, payment.order)
        if invalid is not None or consent is None:
            return settle.Verdict(None, invalid or "the payment consent is unknown", None)
        used = mandates.used_in_period(consent, self._under(consent.consent_id), today)
        breach = mandates.limit_breach(consent, payment.order, used)
        return settle.Verdict(self._debtor(payment), None, breach)

    def _debtor(self, payment: Payment) -> Account | None:
        iban = payment.order.debtor_iban
        return next((a for a in self._accounts_of(payment.psu_id) if a.iban == iban), None)

    def _under(self, consent_id: str) -> list[Payment]:
        return [p for p in self._payments.values() if p.consent_id == consent_id]

    def _own_account(self, psu_id: str, iban: str) -> Account:
        account = next((a for a in self._accounts_of(psu_id) if a.iban == iban), None)
        if account is None:
            raise FormatError("debtorAccount is not an account of this PSU")
        return account

    def _owned(self, psu_id: str, consent_id: str) -> PaymentConsent:
        consent = self._mandates.get(consent_id, self._clock.today())
        if consent.psu_id != psu_id:
            raise ConsentUnknown("no payment consent with this id")
        return consent

    def _owned_payment(self, psu_id: str, payment_id: str) -> Payment:
        self.progress()
        payment = self._payments.get(payment_id)
        if payment is None or payment.psu_id != psu_id:
            raise ResourceUnknown("no payment with this id")
        return payment
