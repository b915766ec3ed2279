"""Scoring a batch of activities against their accounts' states, in memory, in order.

Rules: each activity is scored exactly as if it were scored alone after the ones before it (same
features, same model, same decision); an activity already scored (before, or earlier in the
batch) returns its first score and folds nothing; an account registered by one activity is owned
by that owner for the rest of the batch; each outflow folded is recorded as a change at the
account's new revision, and an account's snapshot is written when it is due. With ``park``, a
transaction whose subject is not a member *yet* is set aside to be parked (never rejected for
that ordering race); with ``unknown_owner``, a transaction of an account nobody owns is scored
linked to no one, registering no account; a transaction of an erased member is dropped, never
stored (payments are the caller's to filter: a decision is always owed).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import DecisionMismatch, OwnerMismatch, UnknownAccount
from fraud.domain.features import extract
from fraud.domain.records import Alert, PaymentDecision, ScoreRecord
from fraud.domain.scoring import Decision, score
from fraud.domain.state import AccountState
from fraud.service.engine import Engine
from fraud.service.ports import BatchContext, ScoringOutcome, Snapshot
from fraud.service.state_cache import Cached, usable


@dataclass(frozen=True, slots=True)
class Options:
    """How a batch treats transactions whose owner is not known (see the module's rules)."""

    park: bool = False
    unknown_owner: bool = False


class ScoringBatch:
    """Scores one batch; collects what it writes, parks and publishes."""

    def __init__(
        self, context: BatchContext, engine: Engine, options: Options | None = None
    ) -> None:
        self.context = context
        self.engine = engine
        self.options = options or Options()
        self.outcomes: list[ScoringOutcome] = []
        self.published: list[tuple[ScoreRecord, Alert | None]] = []
        self.parked: list[Activity] = []
        self._touched: dict[str, Cached] = {}

    def score(self, activity: Activity) -> tuple[ScoreRecord, PaymentDecision | None] | None:
        """Score one activity (or return its first score); None when dropped or parked."""
        ctx = self.context
        existing = ctx.scores.get((activity.kind, activity.ref))
        if existing is not None:
            decision = ctx.decisions.get(activity.ref)
            if activity.kind is ActivityKind.PAYMENT and decision is not None:
                _check_same(decision, activity)
            return existing, decision
        if activity.kind is not ActivityKind.PAYMENT:
            if activity.owner_ref in ctx.erased:
                return None
            if self.options.park and self._awaits_registration(activity):
                self.parked.append(activity)
                return None
        return self._score(activity)

    def _score(self, activity: Activity) -> tuple[ScoreRecord, PaymentDecision | None]:
        ctx = self.context
        security = ctx.security.get(
            ctx.owners.get(activity.account_ref) or activity.owner_ref or ""
        )
        if self.options.unknown_owner and activity.account_ref not in ctx.owners:
            activity = replace(activity, owner_ref=None)
        owner, register = self._owner(activity)
        cached = self._account(activity.account_ref)
        account = cached.state
        features = extract(account, security, activity)
        engine = self.engine
        result = score(
            features, engine.policy, engine.models.current, is_outflow=activity.is_outflow
        )
        record = ScoreRecord(
            score_id=engine.new_id(),
            kind=activity.kind,
            activity_ref=activity.ref,
            account_ref=activity.account_ref,
            owner_ref=owner,
            value=result.value,
            decision=result.decision,
            reasons=result.reasons,
            features=features,
            model_version=result.model_version,
            scored_at=engine.clock(),
            source_event_id=activity.source_event_id,
        )
        change = account.observe(activity)
        if change is not None:
            cached.token = record.score_id
        alert = _alert(record, engine)
        decision = _decision(activity, record, alert)
        self.outcomes.append(
            ScoringOutcome(
                record, account.revision, change, owner if register else None, alert, decision
            )
        )
        self.published.append((record, alert))
        ctx.scores[(activity.kind, activity.ref)] = record
        if decision is not None:
            ctx.decisions[decision.payment_id] = decision
        return record, decision

    def snapshots(self) -> list[Snapshot]:
        """The snapshots due among the accounts this batch changed."""
        due: list[Snapshot] = []
        for cached in self._touched.values():
            if self.engine.states.snapshot_due(cached):
                due.append(Snapshot(cached.state, cached.token))
                self.engine.states.snapshotted(cached)
        return due

    def _account(self, account_ref: str) -> Cached:
        """The account's committed state: from memory when its head is the committed one."""
        touched = self._touched.get(account_ref)
        if touched is not None:
            return touched
        states = self.engine.states
        cached = states.get(account_ref)
        head = self.context.heads.get(account_ref)
        loaded = self.context.states.get(account_ref)
        if loaded is not None:
            state, snapshot_revision = loaded
            cached = states.put(state, head.token if head else None, snapshot_revision)
        elif cached is None or not usable(cached, head):
            cached = states.put(AccountState(account_ref), None, 0)
        self._touched[account_ref] = cached
        return cached

    def _awaits_registration(self, activity: Activity) -> bool:
        return (
            activity.account_ref not in self.context.owners
            and activity.owner_ref is not None
            and activity.owner_ref not in self.context.members
            and not self.engine.auto_register_accounts
        )

    def _owner(self, activity: Activity) -> tuple[str | None, bool]:
        """The account's owner, and whether the account is to be registered to them now."""
        known = self.context.owners.get(activity.account_ref)
        if known is not None:
            if activity.owner_ref is not None and activity.owner_ref != known:
                raise OwnerMismatch()
            return known, False
        if self.options.unknown_owner:
            return None, False
        if activity.owner_ref is None:
            raise UnknownAccount()
        member = activity.owner_ref in self.context.members
        if not self.engine.auto_register_accounts and not member:
            raise UnknownAccount()
        self.context.owners[activity.account_ref] = activity.owner_ref
        return activity.owner_ref, True


def _check_same(existing: PaymentDecision, activity: Activity) -> None:
    payee = activity.payee_ref or ""
    if not existing.same_request(-activity.amount, activity.currency, payee, activity.account_ref):
        raise DecisionMismatch("payment id already decided with other details")


def _alert(record: ScoreRecord, engine: Engine) -> Alert | None:
    if record.decision is Decision.PASS:
        return None
    return Alert(
        alert_id=engine.new_id(),
        score_id=record.score_id,
        kind=record.kind,
        activity_ref=record.activity_ref,
        account_ref=record.account_ref,
        owner_ref=record.owner_ref,
        decision=record.decision,
        value=record.value,
        reasons=record.reasons,
        raised_at=record.scored_at,
    )


def _decision(
    activity: Activity, record: ScoreRecord, alert: Alert | None
) -> PaymentDecision | None:
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        return None
    return PaymentDecision(
        payment_id=activity.ref,
        account_ref=activity.account_ref,
        owner_ref=record.owner_ref,
        amount=-activity.amount,
        currency=activity.currency,
        payee_ref=activity.payee_ref,
        score_id=record.score_id,
        decision=record.decision,
        decided_at=record.scored_at,
        alert_id=alert.alert_id if alert else None,
    )
