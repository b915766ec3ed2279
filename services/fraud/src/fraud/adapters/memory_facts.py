"""Weekly report facts computed from a ``MemoryStore`` (the Pg adapter does the same in SQL)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import TYPE_CHECKING

from fraud.domain.activity import SignalKind
from fraud.domain.records import HoldStatus, ScoreRecord
from fraud.domain.report import (
    CONSENT_HORIZON,
    AlertSummary,
    DailyActivity,
    ExpiringConsent,
    ReportFacts,
    Week,
)
from fraud.domain.scoring import Decision

if TYPE_CHECKING:
    from fraud.adapters.memory import MemoryStore

_REFUSED = (HoldStatus.BLOCKED, HoldStatus.CANCELLED)


def _in(week: Week, moment: datetime) -> bool:
    return week.start <= moment.date() <= week.end


class MemoryReportSource:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def owners_active(self, week: Week) -> list[str]:
        owners = {s.owner_ref for s, _ in self.store.signals if _in(week, s.occurred_at)}
        owners |= {
            r.owner_ref
            for r in self.store.scores.values()
            if r.owner_ref and _in(week, r.scored_at)
        }
        return sorted(owners)

    async def facts(self, owner_ref: str, week: Week, now: datetime) -> ReportFacts:
        signals = [
            (s, new)
            for s, new in self.store.signals
            if s.owner_ref == owner_ref and _in(week, s.occurred_at)
        ]
        kinds = [s.kind for s, _ in signals]
        decisions = [
            d
            for d in self.store.decisions.values()
            if d.owner_ref == owner_ref and _in(week, d.decided_at)
        ]
        return ReportFacts(
            logins=kinds.count(SignalKind.LOGIN),
            failed_logins=kinds.count(SignalKind.LOGIN_FAILED),
            new_devices=sum(1 for _, new in signals if new),
            step_ups=kinds.count(SignalKind.STEP_UP),
            failed_step_ups=kinds.count(SignalKind.STEP_UP_FAILED),
            factor_changes=kinds.count(SignalKind.FACTOR_CHANGED),
            blocked_payments=sum(1 for d in decisions if d.status in _REFUSED),
            held_payments=sum(1 for d in decisions if d.status is HoldStatus.HELD),
            alerts=self._alerts(owner_ref, week),
            expiring_consents=self._consents(owner_ref, now),
            daily=self._daily(owner_ref, week),
        )

    def _alerts(self, owner_ref: str, week: Week) -> tuple[AlertSummary, ...]:
        found = [
            AlertSummary(
                alert_id=a.alert_id,
                kind=a.kind.value,
                decision=a.decision.value,
                score=a.value,
                raised_at=a.raised_at,
                top_reason=a.reasons[0].code if a.reasons else None,
                verdict=a.verdict.value if a.verdict else None,
            )
            for a in self.store.alerts.values()
            if a.owner_ref == owner_ref and _in(week, a.raised_at)
        ]
        return tuple(sorted(found, key=lambda a: a.raised_at))

    def _consents(self, owner_ref: str, now: datetime) -> tuple[ExpiringConsent, ...]:
        return tuple(
            ExpiringConsent(ref, expires)
            for (owner, ref), expires in sorted(self.store.consents.items())
            if owner == owner_ref
            and expires is not None
            and now <= expires <= now + CONSENT_HORIZON
        )

    def _daily(self, owner_ref: str, week: Week) -> tuple[DailyActivity, ...]:
        by_day: dict[date, list[ScoreRecord]] = defaultdict(list)
        for r in self.store.scores.values():
            if r.owner_ref == owner_ref and _in(week, r.scored_at):
                by_day[r.scored_at.date()].append(r)
        return tuple(_day(day, records) for day, records in sorted(by_day.items()))


def _day(day: date, records: list[ScoreRecord]) -> DailyActivity:
    decisions = [r.decision for r in records]
    return DailyActivity(
        day=day,
        scored=len(records),
        passed=decisions.count(Decision.PASS),
        reviewed=decisions.count(Decision.REVIEW),
        blocked=decisions.count(Decision.BLOCK),
        max_score=max(r.value for r in records),
    )
