"""Ports the fraud use cases depend on; adapters implement them (Pg for real, memory for tests).

Rule: repositories never commit; only the unit of work commits, and it writes the published
events to the outbox in the same transaction as the state they describe.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from common.db.ports import TransactionPort
from common.events import Event

from fraud.domain.activity import Activity, ActivityKind, SecuritySignal
from fraud.domain.records import Alert, AlertStatus, AuditEntry, PaymentDecision, ScoreRecord
from fraud.domain.report import ReportFacts, Week, WeeklyReport
from fraud.domain.state import AccountState, Observation, OwnerSecurityState


@dataclass(frozen=True, slots=True)
class AccountHead:
    """Where an account's committed history stands: how many outflows it has folded and the
    score id of the last one (``token``), so a copy held in memory can be checked cheaply."""

    revision: int
    token: str | None


@dataclass(slots=True)
class BatchContext:
    """What scoring a batch of activities needs, read once their accounts are locked.

    ``states`` holds the committed state (snapshot + replayed changes) of every account whose
    head differed from the one the caller said it holds; the others are unchanged since."""

    owners: dict[str, str] = field(default_factory=dict)
    members: set[str] = field(default_factory=set)
    erased: set[str] = field(default_factory=set)
    """The activities' subjects that are erased members: nothing about them is stored again."""
    heads: dict[str, AccountHead] = field(default_factory=dict)
    states: dict[str, tuple[AccountState, int]] = field(default_factory=dict)
    security: dict[str, OwnerSecurityState] = field(default_factory=dict)
    scores: dict[tuple[ActivityKind, str], ScoreRecord] = field(default_factory=dict)
    decisions: dict[str, PaymentDecision] = field(default_factory=dict)


@dataclass(slots=True)
class CommittedState:
    """An account's committed state (snapshot + changes replayed), the revision of its
    snapshot, and the score id of its last change (``token``: with the revision, its head)."""

    state: AccountState
    snapshot_revision: int
    token: str | None

    @property
    def head(self) -> AccountHead:
        return AccountHead(self.state.revision, self.token)


class StateLoader(Protocol):
    """Reads whole account states outside any batch, to hold them before their events come."""

    async def owned(
        self, owns: Callable[[str], bool], chunk: int, limit: int
    ) -> list[CommittedState]:
        """The committed state of the accounts with a history that ``owns`` selects (at most
        ``limit``, most recently changed first), read in one database snapshot."""


@dataclass(frozen=True, slots=True)
class ScoringOutcome:
    """What scoring one activity writes: its score, alert and decision, the outflow it folded
    into its account (``change``, at the account's new ``revision``), and the account's owner
    when it is registered now."""

    score: ScoreRecord
    revision: int
    change: Observation | None = None
    register_owner: str | None = None
    alert: Alert | None = None
    decision: PaymentDecision | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An account's whole state, written so replays start from it."""

    state: AccountState
    token: str | None


class ScoringStore(Protocol):
    async def load_many(
        self, activities: Sequence[Activity], known: Mapping[str, AccountHead]
    ) -> BatchContext:
        """Lock the activities' accounts for the transaction (in one global order), then read
        their owners, heads, the owners' security states, the scores and decisions they already
        have, which subjects are erased members, and the state of each account whose head is not
        the ``known`` one."""

    async def record_many(
        self, outcomes: Sequence[ScoringOutcome], snapshots: Sequence[Snapshot]
    ) -> None:
        """Write every outcome (set-based) and the given snapshots, dropping the changes a
        snapshot covers; a concurrent duplicate raises ``StaleState``."""


class SecurityStates(Protocol):
    async def get(
        self, owner_ref: str, *, for_update: bool = False
    ) -> OwnerSecurityState | None: ...
    async def save(self, state: OwnerSecurityState) -> None: ...

    async def get_many(self, owner_refs: Sequence[str]) -> dict[str, OwnerSecurityState]:
        """The owners' states that exist, locked for the transaction (in one global order)."""

    async def save_many(
        self, states: Sequence[OwnerSecurityState], existing: Collection[str]
    ) -> None:
        """Write the states in one statement: update those in ``existing`` (read by
        ``get_many``), create the others (one created meanwhile raises ``StaleState``)."""


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
    async def add_many(self, entries: Sequence[tuple[SecuritySignal, bool]]) -> None:
        """Log signals (each with whether its device was new) in one statement."""


class Consents(Protocol):
    async def upsert(self, owner_ref: str, consent_ref: str, expires_at: datetime | None) -> None:
        """Record a consent's expiry; ``None`` means it ended."""

    async def upsert_many(self, expiries: Mapping[tuple[str, str], datetime | None]) -> None:
        """Record the expiry of each (owner, consent) in one statement."""


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

    async def erased_among(self, owner_refs: Sequence[str]) -> set[str]:
        """The given subjects that are erased members (one read for a whole batch)."""


class ParkedActivities(Protocol):
    """Transactions waiting for their owner's registration."""

    async def park(self, activity: Activity, parked_at: datetime, deadline: datetime) -> None:
        """Keep the activity (once per source event or reference)."""

    async def park_many(
        self, activities: Sequence[Activity], parked_at: datetime, deadline: datetime
    ) -> None:
        """Keep the activities (once each, as ``park`` does) in one statement."""

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
