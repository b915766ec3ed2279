"""Ports the fraud use cases depend on; adapters implement them (Pg for real, memory for tests).

Rule: repositories never commit; only the unit of work commits, and it writes the published
events to the outbox in the same transaction as the state they describe.
"""

from __future__ import annotations

from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self

from pydantic import BaseModel

from fraud.domain.activity import ActivityKind, SecuritySignal
from fraud.domain.records import Alert, AlertStatus, AuditEntry, PaymentDecision, ScoreRecord
from fraud.domain.report import ReportFacts, Week, WeeklyReport
from fraud.domain.state import AccountState, OwnerSecurityState


class AccountStates(Protocol):
    async def get(self, account_ref: str) -> AccountState | None: ...
    async def save(self, state: AccountState) -> None: ...


class SecurityStates(Protocol):
    async def get(self, owner_ref: str) -> OwnerSecurityState | None: ...
    async def save(self, state: OwnerSecurityState) -> None: ...


class AccountDirectory(Protocol):
    async def owner_of(self, account_ref: str) -> str | None: ...
    async def register(self, account_ref: str, owner_ref: str) -> None: ...


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


class ReportRenderer(Protocol):
    def render(self, report: WeeklyReport) -> bytes: ...


class UnitOfWork(Protocol):
    account_states: AccountStates
    security_states: SecurityStates
    directory: AccountDirectory
    scores: Scores
    alerts: Alerts
    decisions: PaymentDecisions
    security_log: SecurityLog
    consents: Consents
    models: ModelStore
    audit: AuditLog
    reports: Reports
    report_source: ReportSource

    async def __aenter__(self) -> Self: ...
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def publish(self, event: BaseModel, *, subject: str | None) -> None:
        """Queue an event for the outbox; it is written by ``commit``."""

    async def commit(self) -> None: ...
