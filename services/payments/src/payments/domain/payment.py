"""A payment and its state machine.

Rules:
- ``awaiting_authorisation → authorised → screening → (held) → cleared → submitting →
  submitted → executed | rejected``; ``cancelled`` before the bank is reached; ``expired`` when
  not authorised within the authorisation window (5 minutes by default).
- Every transition names its author (member with session and device, fraud, analyst, bank,
  auth or the system) and is kept as an audit entry; the service turns each into an event.
- Authorisation records the step-up authorisation id; no payment reaches ``submitting``
  without a fraud ``pass`` (or an analyst's release of a hold).
- The request id sent to the bank is derived from the payment id, so every retry of the
  submission, even after a crash, is the same request to the bank and never a second payment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from payments.domain.errors import AuthorisationExpired, PaymentStateConflict
from payments.domain.money import Money

BANK_REQUEST_NAMESPACE = uuid.UUID("6f1c2d0e-9a8b-4c3d-8e7f-5a4b3c2d1e0f")


class Kind(StrEnum):
    PAYMENT = "payment"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"


class State(StrEnum):
    AWAITING_AUTHORISATION = "awaiting_authorisation"
    AUTHORISED = "authorised"
    SCREENING = "screening"
    HELD = "held"
    CLEARED = "cleared"
    SUBMITTING = "submitting"
    SUBMITTED = "submitted"
    EXECUTED = "executed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


TERMINAL = frozenset({State.EXECUTED, State.REJECTED, State.CANCELLED, State.EXPIRED})
BEFORE_BANK = frozenset(
    {State.AWAITING_AUTHORISATION, State.AUTHORISED, State.SCREENING, State.HELD, State.CLEARED}
)
ALLOWED: dict[State, frozenset[State]] = {
    State.AWAITING_AUTHORISATION: frozenset({State.AUTHORISED, State.CANCELLED, State.EXPIRED}),
    State.AUTHORISED: frozenset({State.SCREENING, State.CANCELLED}),
    State.SCREENING: frozenset({State.CLEARED, State.HELD, State.REJECTED, State.CANCELLED}),
    State.HELD: frozenset({State.CLEARED, State.REJECTED, State.CANCELLED}),
    State.CLEARED: frozenset({State.SUBMITTING, State.CANCELLED}),
    State.SUBMITTING: frozenset({State.SUBMITTED, State.REJECTED}),
    State.SUBMITTED: frozenset({State.EXECUTED, State.REJECTED}),
}


class ActorKind(StrEnum):
    MEMBER = "member"
    FRAUD = "fraud"
    ANALYST = "analyst"
    BANK = "bank"
    SYSTEM = "system"
    AUTH = "auth"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str | None = None
    session_id: str | None = None
    device_id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        return cls(ActorKind.SYSTEM, "payments")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who moved the payment from ``previous`` to ``state``, when, and on what grounds."""

    payment_id: str
    at: datetime
    state: State
    previous: State | None
    actor: Actor
    authorisation_id: str | None = None
    decision: str | None = None
    reason: str | None = None


@dataclass
class Payment:
    payment_id: str
    user_id: str
    kind: Kind
    consent_id: str
    account_ref: str
    money: Money
    payee_ref: str
    payee_name: str
    payee_masked: str
    remittance: str
    created_at: datetime
    authorise_by: datetime
    session_id: str | None
    device_id: str | None
    state: State = State.AWAITING_AUTHORISATION
    updated_at: datetime | None = None
    authorisation_id: str | None = None
    decision: str | None = None
    reason: str | None = None
    bank_payment_id: str | None = None
    bank_status: str | None = None
    next_check_at: datetime | None = None
    checks: int = 0
    executed_at: datetime | None = None
    entries: list[AuditEntry] = field(default_factory=list, repr=False)

    @classmethod
    def create(
        cls, *, actor: Actor, now: datetime, authorisation_window: timedelta, **values: object
    ) -> Payment:
        payment = cls(
            created_at=now,
            authorise_by=now + authorisation_window,
            session_id=actor.session_id,
            device_id=actor.device_id,
            updated_at=now,
            **values,  # type: ignore[arg-type]
        )
        payment.next_check_at = payment.authorise_by
        payment.entries.append(AuditEntry(payment.payment_id, now, payment.state, None, actor))
        return payment

    @property
    def bank_request_id(self) -> str:
        """The X-Request-ID of every submission of this payment (stable across retries)."""
        return str(uuid.uuid5(BANK_REQUEST_NAMESPACE, self.payment_id))

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL

    def _move(
        self,
        to: State,
        actor: Actor,
        now: datetime,
        *,
        authorisation_id: str | None = None,
        decision: str | None = None,
        reason: str | None = None,
    ) -> None:
        if to not in ALLOWED.get(self.state, frozenset()):
            raise PaymentStateConflict(
                f"a payment that is {self.state.value} cannot become {to.value}",
                state=self.state.value,
            )
        entry = AuditEntry(
            self.payment_id, now, to, self.state, actor, authorisation_id, decision, reason
        )
        self.state, self.updated_at = to, now
        self.entries.append(entry)

    def authorise(self, actor: Actor, authorisation_id: str, now: datetime) -> None:
        """The member's step-up authorisation was verified for exactly this operation."""
        if self.state is State.AWAITING_AUTHORISATION and now >= self.authorise_by:
            raise AuthorisationExpired("authorise within the authorisation window")
        self._move(State.AUTHORISED, actor, now, authorisation_id=authorisation_id)
        self.authorisation_id = authorisation_id
        self._move(State.SCREENING, Actor.system(), now, reason="fraud-screening")

    def expire(self, now: datetime) -> None:
        self._move(State.EXPIRED, Actor.system(), now, reason="not-authorised-in-time")
        self.reason = "not-authorised-in-time"

    def cancel(self, actor: Actor, now: datetime, reason: str) -> None:
        self._move(State.CANCELLED, actor, now, reason=reason)
        self.reason = reason

    def fraud_decided(self, decision: str, actor: Actor, now: datetime) -> None:
        """pass → cleared, review → held, block → rejected (only while screening)."""
        self.decision = decision
        if decision == "pass":
            self._move(State.CLEARED, actor, now, decision=decision)
        elif decision == "review":
            self._move(State.HELD, actor, now, decision=decision, reason="fraud-review")
        else:
            self.reason = "fraud-blocked"
            self._move(State.REJECTED, actor, now, decision=decision, reason=self.reason)

    def hold_resolved(self, released: bool, actor: Actor, now: datetime) -> None:
        if released:
            self.decision = "released"
            self._move(State.CLEARED, actor, now, decision="released")
        else:
            self.decision, self.reason = "cancelled", "analyst-cancelled"
            self._move(State.REJECTED, actor, now, decision="cancelled", reason=self.reason)

    def start_submission(self, now: datetime) -> None:
        self._move(State.SUBMITTING, Actor.system(), now)

    def submitted(
        self, bank_payment_id: str, status: str, now: datetime, next_check: datetime
    ) -> None:
        self.bank_payment_id, self.bank_status, self.next_check_at = (
            bank_payment_id,
            status,
            next_check,
        )
        self._move(State.SUBMITTED, Actor(ActorKind.BANK, "bank"), now, decision=status)

    def bank_rejected(self, code: str, now: datetime) -> None:
        self.reason, self.bank_status = _reason(code), "RJCT"
        self._move(
            State.REJECTED, Actor(ActorKind.BANK, "bank"), now, decision="RJCT", reason=self.reason
        )

    def executed(self, now: datetime) -> None:
        self.bank_status, self.executed_at = "ACSC", now
        self._move(State.EXECUTED, Actor(ActorKind.BANK, "bank"), now, decision="ACSC")

    def still_pending(self, status: str, next_check: datetime) -> None:
        """The bank has not settled it yet (RCVD, ACTC): look again later, never resubmit."""
        self.bank_status, self.next_check_at, self.checks = status, next_check, self.checks + 1


def _reason(code: str) -> str:
    known = {
        "INSUFFICIENT_FUNDS": "insufficient-funds",
        "LIMIT_EXCEEDED": "limit-exceeded",
        "CREDITOR_IBAN_INVALID": "creditor-iban-invalid",
        "CONSENT_INVALID": "consent-invalid",
        "CONSENT_EXPIRED": "consent-invalid",
        "CONSENT_UNKNOWN": "consent-invalid",
        "FORMAT_ERROR": "bank-format-error",
    }
    return known.get(code, "bank-rejected")
