"""Ports the fraud use cases depend on; adapters implement them (Pg for real, memory for tests).

Rule: repositories never commit; only the unit of work commits, and it writes the published
events to the outbox in the same transaction as the state they describe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from common.db.ports import TransactionPort
from common.events import Event

from fraud.domain.activity import Activity, ActivityKind, SecuritySignal
from fraud.domain.records import Alert, AlertStatus, AuditEntry, PaymentDecision, ScoreRecord
from fraud.domain.report import ReportFacts, Week, WeeklyReport
from fraud.domain.state import AccountState, OwnerSecurityState


@dataclass(frozen=True, slots=True)
class ScoringContext:
    """What scoring one activity needs, read once the account is locked."""

    owner: str | None
    member: bool
    account: AccountState | None
    security: OwnerSecurityState | None
    score: ScoreRecord | None
    decision: PaymentDecision | None
    erased: bool = False
    """The activity's subject is an erased member: nothing about them is stored again."""


@dataclass(frozen=True, slots=True)
class ScoringOutcome:
    """What scoring one activity writes, in one go."""

    account: AccountState
    score: ScoreRecord
    register_owner: str | None = None
    alert: Alert | None = None
    decision: PaymentDecision | None = None


class ScoringStore(Protocol):
    async def load(self, activity: Activity) -> ScoringContext:
        """Lock the activity's account for the transaction, then read its context (the owner's
        security state is that of the account's owner, or of the activity's subject)."""

    async def record(self, outcome: ScoringOutcome) -> None:
        """Write the new account state, the score, its alert and decision, and register the
        account when ``register_owner`` is set; a concurrent duplicate raises ``StaleState``."""


class SecurityStates(Protocol):
    async def get(
        self, owner_ref: str, *, for_update: bool = False
    ) -> OwnerSecurityState | None: ...
    async def save(self, state: OwnerSecurityState) -> None: ...


class AccountDirectory(Protocol):
    async def owner_of(self, account_ref: str) -> str | None: ...
    async def register(self, account_ref: str, owner_ref: str) -> None: ...
    async def is_member(self, owner_ref: str) -> bool: ...
    async def add_member(self, owner_ref: str) -> None: ...


class Scores(Protocol):
    async def add(self, record: ScoreRecord) -> None: ...
    async def get(self, score_id: str) -> ScoreRecord | None: ...
    async def find(self, kind: ActivityKind, activity_ref: str) -> ScoreRecord | None: ...


class Alerts(Protocol):
    async def add(self, alert: Alert) -> None: ...
    async def get(self, alert_id: str, *, for_update: bool = False) -> Alert | None: ...
    async def save(self, alert: Alert) -> None: ...
    async def list(
        self, *, status: AlertStatus | None, limit: int, before: datetime | None
    ) -> list[Alert]: ...


class PaymentDecisions(Protocol):
    async def get(self, payment_id: str, *, for_update: bool = False) -> PaymentDecision | None: ...
    async def add(self, decision: PaymentDecision) -> None: ...
    async def save(self, decision: PaymentDecision) -> None: ...


class SecurityLog(Protocol):
    async def add(self, signal: SecuritySignal, *, new_device: bool) -> None: ...


class Consents(Protocol):
    async def upsert(self, owner_ref: str, consent_ref: str, expires_at: datetime | None) -> None:
        """Record a consent's expiry; ``None`` means it ended."""


class ModelStore(Protocol):
    async def load(self, *, for_update: bool = False) -> dict[str, Any] | None: ...
    async def save(self, state: dict[str, Any]) -> None: ...


class AuditLog(Protocol):
    async def add(self, entry: AuditEntry) -> None: ...


class Reports(Protocol):
    async def add(self, report: WeeklyReport, pdf: bytes) -> None: ...
    async def get(self, report_id: str) -> tuple[WeeklyReport, bytes] | None: ...
    async def find(self, owner_ref: str, week: Week) -> WeeklyReport | None: ...


class ReportSource(Protocol):
    async def facts(self, owner_ref: str, week: Week, now: datetime) -> ReportFacts: ...
    async def owners_active(self, week: Week) -> list[str]: ...


class Erasure(Protocol):
    async def erase_owner(self, owner_ref: str, now: datetime) -> dict[str, int]:
        """Delete the owner's data, pseudonymise their scores, alerts and decisions, purge
        their sent outbox rows and remember them as erased; return row counts."""

    async def is_erased(self, owner_ref: str | None) -> bool: ...


class ParkedActivities(Protocol):
    """Transactions waiting for their owner's registration."""

    async def park(self, activity: Activity, parked_at: datetime, deadline: datetime) -> None:
        """Keep the activity (once per source event or reference)."""

    async def take_for_owner(self, owner_ref: str) -> list[Activity]:
        """Remove and return the owner's parked activities, oldest first."""

    async def take_due(self, now: datetime, limit: int) -> list[tuple[Activity, bool]]:
        """Remove and return parked activities whose owner is now a member, or whose deadline
        passed (flagged True), oldest first; rows other callers hold are skipped."""


class ReportRuns(Protocol):
    async def claim(self, week: Week, now: datetime) -> bool:
        """True when this caller should run the week (not done, and not running elsewhere)."""

    async def complete(self, week: Week, now: datetime, reports: int) -> None: ...


class ReportRenderer(Protocol):
    def render(self, report: WeeklyReport) -> bytes: ...


class UnitOfWork(TransactionPort, Protocol):
    """One transaction over every repository (read-only attributes, so adapters may narrow)."""

    @property
    def scoring(self) -> ScoringStore: ...
    @property
    def security_states(self) -> SecurityStates: ...
    @property
    def directory(self) -> AccountDirectory: ...
    @property
    def scores(self) -> Scores: ...
    @property
    def alerts(self) -> Alerts: ...
    @property
    def decisions(self) -> PaymentDecisions: ...
    @property
    def security_log(self) -> SecurityLog: ...
    @property
    def consents(self) -> Consents: ...
    @property
    def models(self) -> ModelStore: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def reports(self) -> Reports: ...
    @property
    def report_source(self) -> ReportSource: ...
    @property
    def erasure(self) -> Erasure: ...
    @property
    def report_runs(self) -> ReportRuns: ...
    @property
    def parked(self) -> ParkedActivities: ...

    def publish(self, event: Event, *, subject: str, key: str | None = None) -> None:
        """Queue an event for the outbox (``key`` orders it, default the subject); it is
        written by ``commit``."""
