"""In-memory adapters for unit tests, the evaluator and the bench's baseline.

Rule: a ``MemoryUnitOfWork`` behaves like the Pg one: nothing it changed is visible after an
exit without ``commit`` (every write is journalled and undone), and published events reach
``outbox`` only on commit.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, Self

from common.events import Event

from fraud.adapters.memory_erasure import MemoryErasure, MemoryParked
from fraud.adapters.memory_facts import MemoryReportSource
from fraud.domain.activity import Activity, ActivityKind, SecuritySignal
from fraud.domain.errors import StaleState
from fraud.domain.records import Alert, AlertStatus, AuditEntry, PaymentDecision, ScoreRecord
from fraud.domain.report import Week, WeeklyReport
from fraud.domain.state import AccountState, OwnerSecurityState
from fraud.service.ports import AccountHead, BatchContext, ScoringOutcome, Snapshot


@dataclass
class MemoryStore:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    owners: dict[str, dict[str, Any]] = field(default_factory=dict)
    directory: dict[str, str] = field(default_factory=dict)
    members: dict[str, bool] = field(default_factory=dict)
    scores: dict[str, ScoreRecord] = field(default_factory=dict)
    score_index: dict[tuple[ActivityKind, str], ScoreRecord] = field(default_factory=dict)
    alerts: dict[str, Alert] = field(default_factory=dict)
    decisions: dict[str, PaymentDecision] = field(default_factory=dict)
    signals: list[tuple[SecuritySignal, bool]] = field(default_factory=list)
    consents: dict[tuple[str, str], datetime | None] = field(default_factory=dict)
    model: dict[str, Any] | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    reports: dict[str, tuple[WeeklyReport, bytes]] = field(default_factory=dict)
    report_runs: dict[str, tuple[datetime, datetime | None]] = field(default_factory=dict)
    outbox: list[tuple[Event, str]] = field(default_factory=list)
    erased: set[str] = field(default_factory=set)
    parked: list[tuple[Activity, datetime, datetime]] = field(default_factory=list)


_MISSING = object()


class Journal:
    """Undo steps for the writes of one unit of work."""

    def __init__(self) -> None:
        self.steps: list[Callable[[], None]] = []

    def put(self, mapping: dict[Any, Any], key: Any, value: Any) -> None:
        old = mapping.get(key, _MISSING)
        self.steps.append(
            lambda: mapping.pop(key, None) if old is _MISSING else mapping.__setitem__(key, old)
        )
        mapping[key] = value

    def append(self, items: list[Any], value: Any) -> None:
        self.steps.append(items.pop)
        items.append(value)

    def undo(self) -> None:
        for step in reversed(self.steps):
            step()
        self.steps = []


class _Repo:
    def __init__(self, store: MemoryStore, journal: Journal) -> None:
        self.store = store
        self.journal = journal


class MemoryScoring(_Repo):
    """Keeps each account's state row current by folding its changes in (a snapshot always)."""

    async def load_many(
        self, activities: Sequence[Activity], known: Mapping[str, AccountHead]
    ) -> BatchContext:
        s, context = self.store, BatchContext()
        for activity in activities:
            account = activity.account_ref
            owner = s.directory.get(account)
            if owner is not None:
                context.owners[account] = owner
            if activity.owner_ref in s.members:
                context.members.add(activity.owner_ref)
            if activity.owner_ref in s.erased:
                context.erased.add(activity.owner_ref)
            security_owner = owner or activity.owner_ref
            if security_owner and (row := s.owners.get(security_owner)):
                context.security[security_owner] = OwnerSecurityState.from_row(row)
            self._head(account, known, context)
            if (found := s.score_index.get((activity.kind, activity.ref))) is not None:
                context.scores[(activity.kind, activity.ref)] = found
            decision = (
                s.decisions.get(activity.ref) if activity.kind is ActivityKind.PAYMENT else None
            )
            if decision is not None:
                context.decisions[activity.ref] = copy.copy(decision)
        return context

    def _head(self, account: str, known: Mapping[str, AccountHead], context: BatchContext) -> None:
        row = self.store.accounts.get(account)
        if row is None or not row["revision"]:
            return
        head = AccountHead(int(row["revision"]), row.get("last_change"))
        context.heads[account] = head
        if known.get(account) != head:
            context.states[account] = (AccountState.from_row(row), head.revision)

    async def record_many(
        self, outcomes: Sequence[ScoringOutcome], snapshots: Sequence[Snapshot]
    ) -> None:
        s, j = self.store, self.journal
        for outcome in outcomes:
            record = outcome.score
            if (record.kind, record.activity_ref) in s.score_index:
                raise StaleState("activity was scored concurrently")
            if outcome.register_owner is not None:
                j.put(s.directory, record.account_ref, outcome.register_owner)
            if outcome.change is not None:
                self._fold(record.account_ref, outcome, record.score_id)
            j.put(s.scores, record.score_id, record)
            j.put(s.score_index, (record.kind, record.activity_ref), record)
            if outcome.alert is not None:
                j.put(s.alerts, outcome.alert.alert_id, copy.copy(outcome.alert))
            if outcome.decision is not None:
                j.put(s.decisions, outcome.decision.payment_id, copy.copy(outcome.decision))

    def _fold(self, account: str, outcome: ScoringOutcome, token: str) -> None:
        row = self.store.accounts.get(account)
        state = AccountState.from_row(row) if row else AccountState(account)
        if state.revision + 1 != outcome.revision:
            raise StaleState("account changed concurrently")
        assert outcome.change is not None
        state.apply(outcome.change)
        self.journal.put(self.store.accounts, account, state.to_row() | {"last_change": token})


class MemorySecurityStates(_Repo):
    async def get(self, owner_ref: str, *, for_update: bool = False) -> OwnerSecurityState | None:
        row = self.store.owners.get(owner_ref)
        return OwnerSecurityState.from_row(row) if row else None

    async def save(self, state: OwnerSecurityState) -> None:
        self.journal.put(self.store.owners, state.owner_ref, copy.deepcopy(state.to_row()))

    async def get_many(self, owner_refs: Sequence[str]) -> dict[str, OwnerSecurityState]:
        rows = {ref: self.store.owners.get(ref) for ref in owner_refs}
        return {ref: OwnerSecurityState.from_row(row) for ref, row in rows.items() if row}

    async def save_many(
        self, states: Sequence[OwnerSecurityState], existing: Collection[str]
    ) -> None:
        if any(s.owner_ref not in existing and s.owner_ref in self.store.owners for s in states):
            raise StaleState("state was created concurrently")
        for state in states:
            await self.save(state)


class MemoryDirectory(_Repo):
    async def owner_of(self, account_ref: str) -> str | None:
        return self.store.directory.get(account_ref)

    async def register(self, account_ref: str, owner_ref: str) -> None:
        self.journal.put(self.store.directory, account_ref, owner_ref)

    async def is_member(self, owner_ref: str) -> bool:
        return owner_ref in self.store.members

    async def add_member(self, owner_ref: str) -> None:
        self.journal.put(self.store.members, owner_ref, True)


class MemoryScores(_Repo):
    async def add(self, record: ScoreRecord) -> None:
        self.journal.put(self.store.scores, record.score_id, record)
        self.journal.put(self.store.score_index, (record.kind, record.activity_ref), record)

    async def get(self, score_id: str) -> ScoreRecord | None:
        return self.store.scores.get(score_id)

    async def find(self, kind: ActivityKind, activity_ref: str) -> ScoreRecord | None:
        return self.store.score_index.get((kind, activity_ref))


class MemoryAlerts(_Repo):
    async def add(self, alert: Alert) -> None:
        self.journal.put(self.store.alerts, alert.alert_id, copy.copy(alert))

    async def get(self, alert_id: str, *, for_update: bool = False) -> Alert | None:
        alert = self.store.alerts.get(alert_id)
        return copy.copy(alert) if alert else None

    async def save(self, alert: Alert) -> None:
        self.journal.put(self.store.alerts, alert.alert_id, copy.copy(alert))

    async def list(
        self, *, status: AlertStatus | None, limit: int, before: datetime | None
    ) -> list[Alert]:
        found = [
            copy.copy(a)
            for a in self.store.alerts.values()
            if (status is None or a.status is status) and (before is None or a.raised_at < before)
        ]
        found.sort(key=lambda a: (a.raised_at, a.alert_id), reverse=True)
        return found[:limit]


class MemoryDecisions(_Repo):
    async def get(self, payment_id: str, *, for_update: bool = False) -> PaymentDecision | None:
        decision = self.store.decisions.get(payment_id)
        return copy.copy(decision) if decision else None

    async def add(self, decision: PaymentDecision) -> None:
        self.journal.put(self.store.decisions, decision.payment_id, copy.copy(decision))

    async def save(self, decision: PaymentDecision) -> None:
        self.journal.put(self.store.decisions, decision.payment_id, copy.copy(decision))


class MemorySecurityLog(_Repo):
    async def add(self, signal: SecuritySignal, *, new_device: bool) -> None:
        self.journal.append(self.store.signals, (signal, new_device))

    async def add_many(self, entries: Sequence[tuple[SecuritySignal, bool]]) -> None:
        for signal, new_device in entries:
            await self.add(signal, new_device=new_device)


class MemoryConsents(_Repo):
    async def upsert(self, owner_ref: str, consent_ref: str, expires_at: datetime | None) -> None:
        self.journal.put(self.store.consents, (owner_ref, consent_ref), expires_at)

    async def upsert_many(self, expiries: Mapping[tuple[str, str], datetime | None]) -> None:
        for (owner_ref, consent_ref), expires_at in expiries.items():
            await self.upsert(owner_ref, consent_ref, expires_at)


class MemoryModelStore(_Repo):
    async def load(self, *, for_update: bool = False) -> dict[str, Any] | None:
        return copy.deepcopy(self.store.model)

    async def save(self, state: dict[str, Any]) -> None:
        self.journal.put(vars(self.store), "model", copy.deepcopy(state))


class MemoryAudit(_Repo):
    async def add(self, entry: AuditEntry) -> None:
        self.journal.append(self.store.audit, entry)


class MemoryReports(_Repo):
    async def add(self, report: WeeklyReport, pdf: bytes) -> None:
        self.journal.put(self.store.reports, report.report_id, (report, pdf))

    async def get(self, report_id: str) -> tuple[WeeklyReport, bytes] | None:
        return self.store.reports.get(report_id)

    async def find(self, owner_ref: str, week: Week) -> WeeklyReport | None:
        matches = [
            r for r, _ in self.store.reports.values() if r.owner_ref == owner_ref and r.week == week
        ]
        return max(matches, key=lambda r: r.generated_at) if matches else None


class MemoryReportRuns(_Repo):
    async def claim(self, week: Week, now: datetime) -> bool:
        run = self.store.report_runs.get(week.label)
        if run is not None and (run[1] is not None or run[0] > now - timedelta(hours=1)):
            return False
        self.journal.put(self.store.report_runs, week.label, (now, None))
        return True

    async def complete(self, week: Week, now: datetime, reports: int) -> None:
        started, _ = self.store.report_runs[week.label]
        self.journal.put(self.store.report_runs, week.label, (started, now))


class MemoryUnitOfWork:
    """A unit of work over a ``MemoryStore`` (snapshot on enter, restore unless committed)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self._journal = Journal()
        j = self._journal
        self.scoring = MemoryScoring(store, j)
        self.security_states = MemorySecurityStates(store, j)
        self.directory = MemoryDirectory(store, j)
        self.scores = MemoryScores(store, j)
        self.alerts = MemoryAlerts(store, j)
        self.decisions = MemoryDecisions(store, j)
        self.security_log = MemorySecurityLog(store, j)
        self.consents = MemoryConsents(store, j)
        self.models = MemoryModelStore(store, j)
        self.audit = MemoryAudit(store, j)
        self.reports = MemoryReports(store, j)
        self.report_source = MemoryReportSource(store)
        self.erasure = MemoryErasure(store, j)
        self.report_runs = MemoryReportRuns(store, j)
        self.parked = MemoryParked(store, j)
        self._pending: list[tuple[Event, str]] = []
        self.commits = 0

    async def __aenter__(self) -> Self:
        self._journal.steps = []
        self._pending = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._journal.undo()
        self._pending = []

    def publish(self, event: Event, *, subject: str, key: str | None = None) -> None:
        self._pending.append((event, subject))

    async def commit(self) -> None:
        self.store.outbox.extend(self._pending)
        self._pending = []
        self._journal.steps = []
        self.commits += 1
