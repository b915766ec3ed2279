"""In-memory adapters for unit tests: storage with the same rules as Postgres, a bank that
keeps payments by request id, a vault and fraud.

Rules: a unit of work works on copies and publishes them (with its events) only on commit;
the bank answers a repeated request id with the first payment, like a real one must.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import TracebackType

from common.events import Event

from payments.domain.consent import ConsentStatus, PaymentConsent
from payments.domain.errors import (
    BankConsentEnded,
    BankUnavailable,
    FraudUnavailable,
    SecretMissing,
)
from payments.domain.payment import AuditEntry, Payment, State
from payments.service.ports import (
    BankStatus,
    ConsentRequest,
    ConsentSecret,
    CreatedConsent,
    DecisionRequest,
    IdempotencyRecord,
    PaymentOrder,
)

_FAILED = {State.REJECTED, State.CANCELLED, State.EXPIRED}
_CONFIRMED = {
    ConsentStatus.ACTIVE,
    ConsentStatus.REVOKED,
    ConsentStatus.EXPIRED,
    ConsentStatus.ENDED,
}


@dataclass
class MemoryState:
    payments: dict[str, Payment] = field(default_factory=dict)
    consents: dict[str, PaymentConsent] = field(default_factory=dict)
    keys: dict[tuple[str, str], IdempotencyRecord] = field(default_factory=dict)
    audit: list[AuditEntry] = field(default_factory=list)
    sessions: dict[str, str] = field(default_factory=dict)
    ledger: set[str] = field(default_factory=set)
    events: list[tuple[Event, str, str | None]] = field(default_factory=list)


class _Payments:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def add(self, p: Payment) -> None:
        assert p.payment_id not in self.s.payments
        await self.save(p)

    async def save(self, p: Payment) -> None:
        """Stores the row only, as Postgres does: audit entries not yet persisted stay out."""
        self.s.payments[p.payment_id] = dataclasses.replace(copy.deepcopy(p), entries=[])

    async def get(self, payment_id: str, *, for_update: bool = False) -> Payment | None:
        found = self.s.payments.get(payment_id)
        return copy.deepcopy(found) if found else None

    async def get_many(self, payment_ids: Sequence[str]) -> dict[str, Payment]:
        found = {i: self.s.payments[i] for i in sorted(set(payment_ids)) if i in self.s.payments}
        return copy.deepcopy(found)

    async def save_many(self, payments: Sequence[Payment]) -> None:
        for p in payments:
            await self.save(p)

    async def of_sessions(self, session_ids: Sequence[str]) -> list[Payment]:
        mine = [p for p in self.s.payments.values() if p.session_id in set(session_ids)]
        return copy.deepcopy(sorted(mine, key=lambda p: (p.created_at, p.payment_id)))

    async def of_user(
        self, user_id: str, before: tuple[datetime, str] | None, limit: int
    ) -> list[Payment]:
        rows = sorted((p for p in self.s.payments.values() if p.user_id == user_id),
                      key=lambda p: (p.created_at, p.payment_id), reverse=True)  # fmt: skip
        rows = [p for p in rows if before is None or (p.created_at, p.payment_id) < before]
        return copy.deepcopy(rows[:limit])

    async def claim(self, state: State, now: datetime, limit: int) -> list[Payment]:
        due = [
            p
            for p in self.s.payments.values()
            if p.state is state and p.next_check_at is not None and p.next_check_at <= now
        ]
        return copy.deepcopy(sorted(due, key=lambda p: p.next_check_at or now)[:limit])

    async def spent_since(self, user_id: str, since: datetime, currency: str) -> Decimal:
        mine = [p for p in self.s.payments.values() if p.user_id == user_id]
        counted = [
            p.money.amount
            for p in mine
            if p.created_at >= since and p.money.currency == currency and p.state not in _FAILED
        ]
        return sum(counted, Decimal(0))

    async def of_session(self, session_id: str) -> list[Payment]:
        return copy.deepcopy([p for p in self.s.payments.values() if p.session_id == session_id])

    async def open_of_user(self, user_id: str) -> list[Payment]:
        return copy.deepcopy([p for p in self.s.payments.values() if p.user_id == user_id
                              and p.state not in _FAILED | {State.EXECUTED}])  # fmt: skip

    async def count_in(self, states: Sequence[State]) -> dict[State, int]:
        return dict(Counter(p.state for p in self.s.payments.values() if p.state in states))

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        mine = [p for p in self.s.payments.values() if p.user_id == user_id]
        for p in mine:
            p.user_id, p.session_id, p.device_id = pseudonym, None, None
        return len(mine)


class _Consents:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def add(self, c: PaymentConsent) -> None:
        self.s.consents[c.consent_id] = copy.deepcopy(c)

    async def save(self, c: PaymentConsent) -> None:
        self.s.consents[c.consent_id] = copy.deepcopy(c)

    async def get(self, consent_id: str, *, for_update: bool = False) -> PaymentConsent | None:
        found = self.s.consents.get(consent_id)
        return copy.deepcopy(found) if found else None

    async def by_state(self, digest: str) -> PaymentConsent | None:
        found = [c for c in self.s.consents.values() if c.state_digest == digest]
        return copy.deepcopy(found[0]) if found else None

    async def of_user(self, user_id: str) -> list[PaymentConsent]:
        return copy.deepcopy([c for c in self.s.consents.values() if c.user_id == user_id])

    async def active_for(self, user_id: str, account_ref: str) -> PaymentConsent | None:
        found = [c for c in self.s.consents.values() if c.user_id == user_id
                 and c.account_ref == account_ref and c.status is ConsentStatus.ACTIVE
                 and c.vault_ref is not None]  # fmt: skip
        return copy.deepcopy(found[0]) if found else None

    async def verified_accounts(self, user_id: str) -> set[str]:
        return {c.account_ref for c in self.s.consents.values()
                if c.user_id == user_id and c.status in _CONFIRMED}  # fmt: skip

    async def due(self, now: datetime, limit: int) -> list[PaymentConsent]:
        due = [c for c in self.s.consents.values()
               if (c.status is ConsentStatus.ACTIVE and c.valid_until <= now)
               or (c.status not in (ConsentStatus.ACTIVE, ConsentStatus.PENDING)
                   and c.vault_ref is not None)]  # fmt: skip
        return copy.deepcopy(due[:limit])

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        mine = [c for c in self.s.consents.values() if c.user_id == user_id]
        for c in mine:
            c.user_id, c.state_digest = pseudonym, None
        return len(mine)


class _Keys:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def claim(self, record: IdempotencyRecord) -> tuple[IdempotencyRecord, bool]:
        key = (record.user_id, record.key)
        if key in self.s.keys:
            return self.s.keys[key], False
        self.s.keys[key] = record
        return record, True

    async def take_over(self, user_id: str, key: str, locked_until: datetime) -> None:
        old = self.s.keys[(user_id, key)]
        self.s.keys[(user_id, key)] = dataclasses.replace(old, locked_until=locked_until)

    async def finish(self, user_id: str, key: str, status: int, body: dict[str, object]) -> None:
        old = self.s.keys[(user_id, key)]
        self.s.keys[(user_id, key)] = IdempotencyRecord(
            old.user_id, old.key, old.fingerprint, old.payment_id, old.created_at, None,
            status, copy.deepcopy(body),
        )  # fmt: skip

    async def purge(self, before: datetime) -> int:
        old = [k for k, r in self.s.keys.items() if r.created_at < before]
        for k in old:
            del self.s.keys[k]
        return len(old)

    async def delete_of_user(self, user_id: str) -> int:
        mine = [k for k in self.s.keys if k[0] == user_id]
        for k in mine:
            del self.s.keys[k]
        return len(mine)


class _Audit:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def add(self, entries: list[AuditEntry]) -> None:
        self.s.audit += entries

    async def of_payment(self, payment_id: str) -> list[AuditEntry]:
        return [e for e in self.s.audit if e.payment_id == payment_id]

    async def pseudonymise(self, user_id: str, pseudonym: str) -> int:
        return 0


class _Sessions:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def revoke(self, session_id: str, user_id: str, at: datetime) -> None:
        self.s.sessions[session_id] = user_id

    async def revoke_many(self, sessions: Sequence[tuple[str, str]], at: datetime) -> None:
        for session_id, user_id in sessions:
            self.s.sessions.setdefault(session_id, user_id)

    async def is_revoked(self, session_id: str) -> bool:
        return session_id in self.s.sessions


class _Ledger:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def record(self, authorisation_id: str, expires_at: datetime) -> bool:
        if authorisation_id in self.s.ledger:
            return False
        self.s.ledger.add(authorisation_id)
        return True


class MemoryUnitOfWork:
    """Works on a copy of the state; ``commit`` replaces the shared state with it."""

    def __init__(self, shared: MemoryState) -> None:
        self._shared = shared

    async def __aenter__(self) -> MemoryUnitOfWork:
        self._state = copy.deepcopy(self._shared)
        self._state.events = []
        s = self._state
        self.payments, self.consents, self.idempotency = _Payments(s), _Consents(s), _Keys(s)
        self.audit, self.sessions, self.ledger = _Audit(s), _Sessions(s), _Ledger(s)
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:  # fmt: skip
        return None

    async def lock_member(self, user_id: str) -> None:
        return None

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None:
        self._state.events.append((event, subject, key))

    async def commit(self) -> None:
        published = self._shared.events + self._state.events
        self._shared.__dict__.update(copy.deepcopy(self._state).__dict__)
        self._shared.events = published


class MemoryBank:
    """Payments by request id (a repeated id answers the first payment); status on demand."""

    def __init__(self) -> None:
        self.consents: dict[str, str] = {}
        self.payments: dict[str, tuple[str, PaymentOrder]] = {}
        self.statuses: dict[str, str] = {}
        self.lose_next_answers = 0
        self.redirects: list[str] = []

    async def create_consent(self, request: ConsentRequest) -> CreatedConsent:
        token = uuid.uuid4().hex + uuid.uuid4().hex[:11]
        self.redirects.append(request.redirect_uri)
        self.consents[token] = "received"
        return CreatedConsent(token, f"https://bank.test/sca/{uuid.uuid4()}")

    async def consent_status(self, token: str, psu_id: str) -> str:
        return self.consents[token]

    async def delete_consent(self, token: str, psu_id: str) -> None:
        self.consents[token] = "terminatedByTpp"

    async def submit(self, order: PaymentOrder) -> BankStatus:
        if self.consents.get(order.token) != "valid":
            raise BankConsentEnded("consent", bank_code="CONSENT_INVALID")
        if order.request_id not in self.payments:
            bank_id = f"bank-{len(self.payments) + 1}"
            self.payments[order.request_id] = (bank_id, order)
            self.statuses[bank_id] = "RCVD"
        if self.lose_next_answers:
            self.lose_next_answers -= 1
            raise BankUnavailable("lost", reason="status-502")
        return BankStatus("RCVD", bank_payment_id=self.payments[order.request_id][0])

    async def status(self, token: str, psu_id: str, bank_payment_id: str) -> BankStatus:
        return BankStatus(self.statuses[bank_payment_id], bank_payment_id=bank_payment_id)


class MemoryVault:
    def __init__(self) -> None:
        self.consents: dict[tuple[str, str], ConsentSecret] = {}
        self.payees: dict[tuple[str, str], str] = {}

    async def put_consent(self, user_id: str, ref: str, secret: ConsentSecret) -> None:
        self.consents[(user_id, ref)] = secret

    async def get_consent(self, user_id: str, ref: str) -> ConsentSecret:
        if (user_id, ref) not in self.consents:
            raise SecretMissing()
        return self.consents[(user_id, ref)]

    async def delete_consent(self, user_id: str, ref: str) -> None:
        self.consents.pop((user_id, ref), None)

    async def put_payee(self, user_id: str, payment_id: str, iban: str) -> None:
        self.payees[(user_id, payment_id)] = iban

    async def get_payee(self, user_id: str, payment_id: str) -> str:
        if (user_id, payment_id) not in self.payees:
            raise SecretMissing()
        return self.payees[(user_id, payment_id)]

    async def delete_payee(self, user_id: str, payment_id: str) -> None:
        self.payees.pop((user_id, payment_id), None)


class MemoryFraud:
    """Answers a fixed decision; ``down`` makes it unavailable."""

    def __init__(self, decision: str = "pass") -> None:
        self.decision = decision
        self.down = False
        self.asked: list[DecisionRequest] = []

    async def decide(self, request: DecisionRequest) -> str:
        self.asked.append(request)
        if self.down:
            raise FraudUnavailable("down")
        return self.decision
