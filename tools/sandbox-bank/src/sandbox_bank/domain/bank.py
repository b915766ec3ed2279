"""The sandbox bank: one thread-safe facade over PSUs, consents and ledger.

Rules:
- Every operation runs under one lock and never awaits, so it is safe from threads and tasks.
- A PSU's accounts and history are generated (seeded) the first time the PSU is seen.
- AIS reads require a usable consent that reaches the account; an account outside the
  consent is RESOURCE_UNKNOWN, so a consent reveals nothing about other PSUs.
- Pending transactions whose delay has passed book before any read or listing.
- Only the first page of a transaction read counts as an unattended access.
- Reads return copies, so callers can serialise them outside the lock.
"""

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox_bank.domain import consents as rules
from sandbox_bank.domain import embedded, generator
from sandbox_bank.domain.clock import SandboxClock
from sandbox_bank.domain.consents import ConsentRegistry
from sandbox_bank.domain.credentials import AgentKey, test_password
from sandbox_bank.domain.errors import ConsentInvalid, FormatError, ResourceUnknown
from sandbox_bank.domain.ledger import Ledger
from sandbox_bank.domain.model import (
    Account,
    BookingStatus,
    Consent,
    ConsentAccess,
    ConsentStatus,
    ConsentTerms,
    Transaction,
    TransactionDraft,
)
from sandbox_bank.domain.paging import PageTokens
from sandbox_bank.domain.pis import PaymentInitiation
from sandbox_bank.domain.pis_model import Payment, PaymentConsent
from sandbox_bank.settings import SandboxSettings


@dataclass(frozen=True)
class TransactionQuery:
    """A transaction read: status, date window (dateTo resolved), and page token if any."""

    status: BookingStatus
    date_from: date
    date_to: date | None
    page: str | None


@dataclass(frozen=True)
class ScaOutcome:
    """Where the member goes after SCA at the bank."""

    approved: bool
    redirect_uri: str
    nok_redirect_uri: str | None


@dataclass(frozen=True)
class TransactionPage:
    """A transaction read's answer: account, items, resolved dateTo, next page token."""

    account: Account
    items: list[Transaction]
    date_to: date
    next_page: str | None


class SandboxBank:
    """The whole sandbox state, in memory."""

    def __init__(
        self,
        settings: SandboxSettings,
        clock: SandboxClock | None = None,
        stuck: Callable[[], bool] = lambda: False,
    ) -> None:
        self.settings = settings
        self.clock = clock or SandboxClock()
        self._lock = threading.RLock()
        self._ledger = Ledger()
        self._consents = ConsentRegistry(settings.max_consent_days, settings.max_frequency_per_day)
        self._tokens = PageTokens()
        self._delay = timedelta(seconds=settings.pending_booking_delay_seconds)
        key = settings.credential_key
        self.agent_key = AgentKey.from_b64u(key.get_secret_value()) if key else AgentKey()
        self.pis = PaymentInitiation(
            lock=self._lock,
            ledger=self._ledger,
            clock=self.clock,
            accounts_of=self._ensure_psu,
            stuck=stuck,
            max_days=settings.max_consent_days,
            settle_delay=timedelta(seconds=settings.payment_settle_delay_seconds),
            default_available=Decimal(settings.payment_available_amount),
        )

    # --- consents -----------------------------------------------------------------------------

    def create_consent(self, psu_id: str, access: ConsentAccess, terms: ConsentTerms) -> Consent:
        """A consent for the PSU; listed IBANs must be the PSU's own."""
        with self._lock:
            ibans = {a.iban for a in self._ensure_psu(psu_id)}
            if not access.named <= ibans:
                raise FormatError("an account reference is not an account of this PSU")
            consent = self._consents.create(
                psu_id=psu_id, access=access, terms=terms, now=self.clock.now()
            )
            return copy.copy(consent)

    def consent(self, consent_id: str) -> Consent:
        """The consent with its current status."""
        with self._lock:
            return copy.copy(self._consents.get(consent_id, self.clock.today()))

    def sca(self, authorisation_id: str, approve: bool) -> ScaOutcome:
        """The member's decision at the bank's SCA page (AIS consent, payment consent, payment)."""
        with self._lock:
            try:
                consent = self._consents.by_authorisation(authorisation_id, self.clock.today())
            except ResourceUnknown:
                target = self.pis.sca_target(authorisation_id, approve)
                if target is None:
                    raise
                return _outcome(target)
            if consent.embedded or consent.redirect_uri is None:
                raise ResourceUnknown("no authorisation with this id")
            self._decide(consent, approve)
            approved = consent.status == ConsentStatus.VALID
            return ScaOutcome(approved, consent.redirect_uri, consent.nok_redirect_uri)

    def authorise(self, consent_id: str, approve: bool = True) -> Consent:
        """Headless SCA, for tests."""
        with self._lock:
            consent = self._consents.get(consent_id, self.clock.today())
            if consent.embedded:
                raise FormatError("this consent is authorised with the PSU's credentials")
            return copy.copy(self._decide(consent, approve))

    def authorise_with_credentials(self, consent_id: str, envelope: str) -> Consent:
        """Embedded SCA: the PSU's credentials, sealed for the agent, authorise the consent."""
        with self._lock:
            consent = self._consents.get(consent_id, self.clock.today())
            password = test_password(self.settings.seed, consent.psu_id)
            attempts = self.settings.max_credential_attempts
            embedded.authorise(consent, self.agent_key, envelope, password, attempts)
            return copy.copy(self._grant(consent))

    def end_consent(self, consent_id: str, status: ConsentStatus) -> Consent:
        """End a consent: terminated by the TPP, revoked by the PSU, or expired."""
        with self._lock:
            consent = self._consents.get(consent_id, self.clock.today())
            rules.end(consent, status)
            return copy.copy(consent)

    def usage(self, consent_id: str) -> dict[str, int]:
        """Unattended reads counted in the last 24 h, by account id (or `accounts`)."""
        with self._lock:
            consent = self._consents.get(consent_id, self.clock.today())
            return rules.unattended_usage(consent, self.clock.now())

    # --- account information ------------------------------------------------------------------

    def list_accounts(self, consent_id: str, attended: bool) -> list[Account]:
        """The accounts the consent reaches."""
        with self._lock:
            consent = self._usable(consent_id, "accounts", attended)
            accounts = self._ledger.accounts_of(consent.psu_id)
            return [copy.copy(a) for a in accounts if consent.access.lists(a)]

    def account(self, consent_id: str, account_id: str, attended: bool) -> Account:
        """One account the consent reaches."""
        with self._lock:
            consent = self._consents.usable(consent_id, self.clock.today())
            account = self._reached(consent, account_id)
            self._count(consent, account_id, attended)
            return copy.copy(account)

    def transactions(
        self, consent_id: str, account_id: str, query: TransactionQuery, attended: bool
    ) -> TransactionPage:
        """One page of the account's transactions matching the query."""
        with self._lock:
            consent = self._consents.usable(consent_id, self.clock.today())
            account = self._reached(consent, account_id)
            if not consent.access.reads_transactions(account):
                raise ConsentInvalid("the consent does not cover this account's transactions")
            date_to = query.date_to or self.clock.today()
            if query.date_from > date_to:
                raise FormatError("dateFrom is after dateTo")
            scope = f"{consent_id}|{account_id}|{query.status}|{query.date_from}|{date_to}"
            after = 0 if query.page is None else self._tokens.read(query.page, scope)
            if query.page is None:
                self._count(consent, account_id, attended)
            self.pis.progress()
            self._ledger.book_due(account, self.clock.now())
            window = (query.date_from, date_to)
            page = self._ledger.page(account, query.status, window, after, self.settings.page_size)
            token = None if page.next_after is None else self._tokens.issue(page.next_after, scope)
            items = [copy.copy(t) for t in page.items]
            return TransactionPage(copy.copy(account), items, date_to, token)

    # --- sandbox controls ---------------------------------------------------------------------

    def psu_accounts(self, psu_id: str) -> list[tuple[Account, int]]:
        """The PSU's accounts (generated if new) with their transaction counts."""
        with self._lock:
            accounts = self._ensure_psu(psu_id)
            return [(copy.copy(a), self._ledger.count(a)) for a in accounts]

    def generate(self, psu_id: str, count: int, seed: int, days: int) -> dict[str, int]:
        """Add `count` booked transactions to each of the PSU's accounts; totals by account."""
        with self._lock:
            totals = {}
            for account in self._ensure_psu(psu_id):
                account.volume_batches += 1
                rng = generator.seeded_random(
                    seed, psu_id, account.resource_id, account.volume_batches
                )
                for draft in generator.volume(rng, self.clock.today(), days, count):
                    self._file(account, draft)
                totals[account.resource_id] = self._ledger.count(account)
            return totals

    def append(self, account_id: str, draft: TransactionDraft) -> Transaction:
        """File one specific transaction on an account."""
        with self._lock:
            return copy.copy(self._file(self._ledger.account(account_id), draft))

    def book_pending(self, account_id: str, transaction_id: str | None) -> list[Transaction]:
        """Book one pending transaction, or all of them, now."""
        with self._lock:
            account = self._ledger.account(account_id)
            booked = self._ledger.book_pending(account, transaction_id, self.clock.today())
            return [copy.copy(t) for t in booked]

    # --- internals ----------------------------------------------------------------------------

    def _ensure_psu(self, psu_id: str) -> list[Account]:
        if not self._ledger.has_psu(psu_id):
            rng = generator.seeded_random(self.settings.seed, psu_id)
            profile = generator.make_profile(rng)
            accounts = generator.make_accounts(rng, psu_id, profile)
            self._ledger.add_psu(psu_id, accounts)
            today, days = self.clock.today(), self.settings.history_days
            for index, account in enumerate(accounts):
                for draft in generator.history(
                    rng, profile, primary=index == 0, today=today, days=days
                ):
                    self._file(account, draft)
        return self._ledger.accounts_of(psu_id)

    def _decide(self, consent: Consent, approve: bool) -> Consent:
        """Record the SCA; an approved consent's bank-offered lists get the member's accounts."""
        return self._grant(rules.decide(consent, approve))

    def _grant(self, consent: Consent) -> Consent:
        if consent.status == ConsentStatus.VALID:
            ibans = frozenset(a.iban for a in self._ledger.accounts_of(consent.psu_id))
            consent.access = consent.access.resolved(ibans)
        return consent

    def _file(self, account: Account, draft: TransactionDraft) -> Transaction:
        return self._ledger.file(account, draft, self.clock.now(), self._delay)

    def _usable(self, consent_id: str, key: str, attended: bool) -> Consent:
        consent = self._consents.usable(consent_id, self.clock.today())
        self._count(consent, key, attended)
        return consent

    def _count(self, consent: Consent, key: str, attended: bool) -> None:
        if not attended:
            rules.count_unattended(consent, key, self.clock.now())

    def _reached(self, consent: Consent, account_id: str) -> Account:
        try:
            account = self._ledger.account(account_id)
        except ResourceUnknown:
            account = None
        if account is None or account.psu_id != consent.psu_id or not consent.access.lists(account):
            raise ResourceUnknown("no account with this resource id under this consent")
        return account


def _outcome(target: PaymentConsent | Payment) -> ScaOutcome:
    if isinstance(target, PaymentConsent):
        approved = target.status == ConsentStatus.VALID
        return ScaOutcome(approved, target.redirect_uri, target.nok_redirect_uri)
    assert target.redirect_uri is not None
    return ScaOutcome(target.reason is None, target.redirect_uri, target.nok_redirect_uri)
