"""The ports payments' use cases need: the bank (PIS), the vault, fraud, storage and a clock.

Rules: the bank port raises ``BankUnavailable`` (``before_work`` tells whether the bank surely
did nothing), ``BankConsentEnded`` or ``BankRefused``; the vault port ``VaultUnavailable`` or
``SecretMissing``; fraud ``FraudUnavailable``. Only ``UnitOfWork.commit`` commits, and it
writes the recorded events to the outbox in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from common.events import Event

from payments.domain.consent import PaymentConsent
from payments.domain.payment import AuditEntry, Payment, State


class Clock(Protocol):
    def now(self) -> datetime: ...


# --- the bank (PSD2 payment initiation) -------------------------------------------------------


@dataclass(frozen=True)
class ConsentRequest:
    psu_id: str
    debtor_iban: str
    currency: str
    max_per_payment: Decimal
    periodic_limit: Decimal
    frequency: str
    valid_until: date
    redirect_uri: str
    nok_redirect_uri: str

    def __repr__(self) -> str:
        return "ConsentRequest(debtor_iban=***)"


@dataclass(frozen=True)
class CreatedConsent:
    token: str
    sca_redirect: str

    def __repr__(self) -> str:
        return "CreatedConsent(token=***)"


@dataclass(frozen=True)
class PaymentOrder:
    """What is sent to the bank; ``request_id`` is stable for one payment."""

    request_id: str
    token: str
    psu_id: str
    debtor_iban: str
    amount: str
    currency: str
    creditor_name: str
    creditor_iban: str
    remittance: str

    def __repr__(self) -> str:
        return f"PaymentOrder(request_id={self.request_id}, ***)"


@dataclass(frozen=True)
class BankStatus:
    """The bank's transaction status (RCVD, ACTC, ACSC, RJCT) and, for RJCT, its code."""

    status: str
    code: str = ""
    bank_payment_id: str = ""


class Bank(Protocol):
    async def create_consent(self, request: ConsentRequest) -> CreatedConsent: ...

    async def consent_status(self, token: str, psu_id: str) -> str: ...

    async def delete_consent(self, token: str, psu_id: str) -> None: ...

    async def submit(self, order: PaymentOrder) -> BankStatus: ...

    async def status(self, token: str, psu_id: str, bank_payment_id: str) -> BankStatus: ...


# --- the vault --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentSecret:
    """What only the vault holds about a payment consent: the bearer id and the debtor IBAN."""

    token: str
    debtor_iban: str
    psu_id: str

    def __repr__(self) -> str:
        return "ConsentSecret(***)"


class SecretVault(Protocol):
    async def put_consent(self, user_id: str, ref: str, secret: ConsentSecret) -> None: ...

    async def get_consent(self, user_id: str, ref: str) -> ConsentSecret: ...

    async def delete_consent(self, user_id: str, ref: str) -> None: ...

    async def put_payee(self, user_id: str, payment_id: str, iban: str) -> None: ...

    async def get_payee(self, user_id: str, payment_id: str) -> str: ...

    async def delete_payee(self, user_id: str, payment_id: str) -> None: ...


# --- fraud ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionRequest:
    payment_id: str
    owner_ref: str
    account_ref: str
    amount: str
    currency: str
    payee_ref: str
    initiated_at: datetime
    device_id: str | None


class Fraud(Protocol):
    async def decide(self, request: DecisionRequest) -> str:
        """'pass', 'review', 'block' or 'released' (a hold an analyst released)."""
        ...


# --- storage ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyRecord:
    user_id: str
    key: str
    fingerprint: str
    payment_id: str
    created_at: datetime
    locked_until: datetime | None
    response_status: int | None
    response_body: dict[str, object] | None


class PaymentRepository(Protocol):
    async def add(self, payment: Payment) -> None: ...

    async def save(self, payment: Payment) -> None: ...

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None: ...

    async def get_many(self, payment_ids: Sequence[str]) -> dict[str, Payment]:
        """The payments found among ``payment_ids``, locked (in id order) until the commit."""
        ...

    async def save_many(self, payments: Sequence[Payment]) -> None: ...

    async def of_sessions(self, session_ids: Sequence[str]) -> list[Payment]:
        """The payments created in any of these sessions, locked (in id order)."""
        ...

    async def of_user(
        self, user_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payment]: ...

    async def claim(self, state: State, now: datetime, limit: int) -> list[Payment]:
        """Payments in ``state`` due (``next_check_at`` passed), locked, skipping locked ones."""
        ...

    async def spent_since(self, user_id: str, since: datetime, currency: str) -> Decimal: ...

    async def of_session(self, session_id: str) -> list[Payment]: ...

    async def open_of_user(self, user_id: str) -> list[Payment]: ...

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int: ...

    async def count_in(self, states: Sequence[State]) -> dict[State, int]:
        """How many payments are in each of ``states`` now (states with none are left out)."""
        ...


class ConsentRepository(Protocol):
    async def add(self, consent: PaymentConsent) -> None: ...

    async def save(self, consent: PaymentConsent) -> None: ...

    async def get(self, consent_id: str, *, for_update: bool = False) -> PaymentConsent | None: ...

    async def by_state(self, digest: str) -> PaymentConsent | None: ...

    async def of_user(self, user_id: str) -> list[PaymentConsent]: ...

    async def active_for(self, user_id: str, account_ref: str) -> PaymentConsent | None: ...

    async def verified_accounts(self, user_id: str) -> set[str]:
        """Account refs of the member's consents the bank confirmed (ownership proven by SCA)."""
        ...

    async def due(self, now: datetime, limit: int) -> list[PaymentConsent]:
        """Locked: active ones past ``valid_until``, and ended ones still to revoke or delete."""
        ...

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int: ...


class IdempotencyRepository(Protocol):
    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        """Insert the key (True) or return the stored one, locked (False)."""
        ...

    async def take_over(self, user_id: str, key: str, locked_until: datetime) -> None: ...

    async def finish(
        self, user_id: str, key: str, status: int, body: dict[str, object]
    ) -> None: ...

    async def purge(self, before: datetime) -> int: ...

    async def delete_of_user(self, user_id: str) -> int: ...


class AuditLog(Protocol):
    async def add(self, entries: list[AuditEntry]) -> None: ...

    async def of_payment(self, payment_id: str) -> list[AuditEntry]: ...

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int: ...


class Sessions(Protocol):
    async def revoke(self, session_id: str, user_id: str, at: datetime) -> None: ...

    async def revoke_many(self, sessions: Sequence[tuple[str, str]], at: datetime) -> None:
        """Revoke each ``(session_id, user_id)`` (one already revoked stays as it was)."""
        ...

    async def is_revoked(self, session_id: str) -> bool: ...


class Ledger(Protocol):
    async def record(self, authorisation_id: str, expires_at: datetime) -> bool: ...


class Store(Protocol):
    @property
    def payments(self) -> PaymentRepository: ...

    @property
    def consents(self) -> ConsentRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def sessions(self) -> Sessions: ...

    @property
    def ledger(self) -> Ledger: ...

    async def lock_member(self, user_id: str) -> None:
        """Serialise the member's limit checks until the end of the transaction."""
        ...

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None: ...


class UnitOfWork(Store, Protocol):
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
