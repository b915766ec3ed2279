"""Moving payments through their lifecycle: acceptance, settlement, booking on the ledger.

Rules (callers hold the bank's lock):
- Acceptance checks, in order: the consent (CONSENT_INVALID), the creditor IBAN's ISO 13616
  checksum (CREDITOR_IBAN_INVALID), the consent's limits (LIMIT_EXCEEDED), and the debtor
  account's amount available for payments (INSUFFICIENT_FUNDS).
- An accepted payment reserves its amount at once, so two payments never spend the same money.
- Settlement books one negative booked transaction on the debtor account (counterparty: the
  creditor; remittance: the payment's text), exactly once per payment.
- A payment waiting for the member's SCA does not move; a denied SCA rejects it.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sandbox_bank.domain import iban
from sandbox_bank.domain.errors import ConsentInvalid
from sandbox_bank.domain.ledger import Ledger
from sandbox_bank.domain.merchants import CREDIT_OUT_CODE
from sandbox_bank.domain.model import Account, TransactionDraft
from sandbox_bank.domain.pis_model import Payment, RejectReason, TransactionStatus


@dataclass(frozen=True)
class Verdict:
    """What the consent says about a payment: its debtor account, or why it is refused."""

    debtor: Account | None
    invalid: str | None
    limit_breach: str | None


ConsentCheck = Callable[[Payment, date], Verdict]


class SettlementDesk:
    """Open payments, and the amount each account still has available for payments."""

    def __init__(
        self,
        ledger: Ledger,
        stuck: Callable[[], bool],
        settle_delay: timedelta,
        default_available: Decimal,
    ) -> None:
        self._ledger = ledger
        self._stuck = stuck
        self._delay = settle_delay
        self._default = default_available
        self._available: dict[str, Decimal] = {}
        self._open: dict[str, Payment] = {}

    def open(self, payment: Payment) -> None:
        """Track a new payment until it is final."""
        if not payment.final:
            self._open[payment.payment_id] = payment

    def progress(self, now: datetime, check: ConsentCheck) -> None:
        """Accept, reject or settle every open payment that can move now."""
        for payment in list(self._open.values()):
            if payment.status == TransactionStatus.RECEIVED and not payment.awaiting_sca:
                self._accept(payment, now, check(payment, now.date()))
            if payment.status == TransactionStatus.ACCEPTED and self._due(payment, now):
                self._settle(payment, now)
            if payment.final:
                del self._open[payment.payment_id]

    def available(self, account: Account) -> Decimal:
        """The account's amount available for payments (the default until set)."""
        return self._available.get(account.resource_id, self._default)

    def set_available(self, account: Account, amount: Decimal) -> Decimal:
        """Set the account's amount available for payments."""
        self._available[account.resource_id] = amount
        return amount

    def _accept(self, payment: Payment, now: datetime, verdict: Verdict) -> None:
        order = payment.order
        if verdict.invalid is not None:
            reject(payment, RejectReason.CONSENT_INVALID, verdict.invalid)
        elif not iban.is_valid(order.creditor_iban):
            text = "the creditor IBAN fails the ISO 13616 check"
            reject(payment, RejectReason.CREDITOR_IBAN_INVALID, text)
        elif verdict.limit_breach is not None:
            reject(payment, RejectReason.LIMIT_EXCEEDED, verdict.limit_breach)
        elif verdict.debtor is None:
            text = "the debtor account is not an account of this PSU"
            reject(payment, RejectReason.CONSENT_INVALID, text)
        elif self.available(verdict.debtor) < order.amount:
            text = "the amount available for payments on the debtor account is too low"
            reject(payment, RejectReason.INSUFFICIENT_FUNDS, text)
        else:
            account = verdict.debtor
            self._available[account.resource_id] = self.available(account) - order.amount
            payment.status = TransactionStatus.ACCEPTED
            payment.accepted_at = now
            payment.accepted_on = now.date()
            payment.debtor_account_id = account.resource_id

    def _due(self, payment: Payment, now: datetime) -> bool:
        assert payment.accepted_at is not None
        return not self._stuck() and now >= payment.accepted_at + self._delay

    def _settle(self, payment: Payment, now: datetime) -> None:
        assert payment.debtor_account_id is not None
        account = self._ledger.account(payment.debtor_account_id)
        order = payment.order
        draft = TransactionDraft(
            amount=-order.amount,
            counterparty_name=order.creditor_name,
            counterparty_iban=iban.normalise(order.creditor_iban),
            remittance=order.remittance or order.creditor_name.upper(),
            bank_transaction_code=CREDIT_OUT_CODE,
            value_date=now.date(),
            booking_date=now.date(),
            end_to_end_id=order.end_to_end_id or "NOTPROVIDED",
        )
        tx = self._ledger.file(account, draft, now, timedelta(0))
        payment.transaction_id = tx.transaction_id
        payment.status = TransactionStatus.SETTLED


def reject(payment: Payment, reason: RejectReason, text: str) -> None:
    """The payment is rejected for this reason (final)."""
    payment.status = TransactionStatus.REJECTED
    payment.reason = reason
    payment.reason_text = text


def decide_payment(payment: Payment, approve: bool) -> None:
    """The member's SCA decision on a payment; repeating it leaves the outcome unchanged."""
    if not payment.awaiting_sca:
        if payment.authorisation_id is None:
            raise ConsentInvalid("this payment is covered by a payment consent and needs no SCA")
        return
    payment.awaiting_sca = False
    if not approve:
        reject(payment, RejectReason.CONSENT_INVALID, "the member refused the payment at the bank")
