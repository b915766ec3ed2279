"""In-memory erasure and parked transactions, for unit tests (see ``fraud.adapters.memory``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from fraud.domain.activity import Activity

if TYPE_CHECKING:
    from fraud.adapters.memory import Journal, MemoryStore


class _Repo:
    def __init__(self, store: MemoryStore, journal: Journal) -> None:
        self.store = store
        self.journal = journal


class MemoryErasure(_Repo):
    async def erase_owner(self, owner_ref: str, now: datetime) -> dict[str, int]:
        s = self.store
        accounts = [a for a, o in s.directory.items() if o == owner_ref]
        counts = {
            "accounts": len(accounts),
            "account_state": sum(1 for a in accounts if a in s.accounts),
            "owner_state": int(owner_ref in s.owners),
            "security_events": sum(1 for sig, _ in s.signals if sig.owner_ref == owner_ref),
            "reports": sum(1 for r, _ in s.reports.values() if r.owner_ref == owner_ref),
            "scores_pseudonymised": _pseudonymise(s, owner_ref, accounts),
        }
        for account in accounts:
            s.directory.pop(account, None)
            s.accounts.pop(account, None)
        s.owners.pop(owner_ref, None)
        s.members.pop(owner_ref, None)
        s.signals[:] = [(sig, new) for sig, new in s.signals if sig.owner_ref != owner_ref]
        for key in [k for k in s.consents if k[0] == owner_ref]:
            del s.consents[key]
        for rid in [rid for rid, (r, _) in s.reports.items() if r.owner_ref == owner_ref]:
            del s.reports[rid]
        s.erased.add(owner_ref)
        return counts

    async def is_erased(self, owner_ref: str | None) -> bool:
        return owner_ref is not None and owner_ref in self.store.erased

    async def erased_among(self, owner_refs: Sequence[str]) -> set[str]:
        return {ref for ref in owner_refs if ref in self.store.erased}


def _pseudonymise(s: MemoryStore, owner_ref: str, accounts: list[str]) -> int:
    tokens = {a: f"erased-{uuid.uuid4()}" for a in accounts}
    changed = 0
    for score_id, record in list(s.scores.items()):
        if record.owner_ref == owner_ref or record.account_ref in tokens:
            token = tokens.setdefault(record.account_ref, f"erased-{uuid.uuid4()}")
            new = replace(
                record,
                account_ref=token,
                owner_ref=None,
                activity_ref=f"erased-{uuid.uuid4()}",
                source_event_id=None,
            )
            s.scores[score_id] = new
            s.score_index.pop((record.kind, record.activity_ref), None)
            s.score_index[(new.kind, new.activity_ref)] = new
            changed += 1
    for alert_id, alert in list(s.alerts.items()):
        if alert.account_ref in tokens:
            s.alerts[alert_id] = replace(
                alert, account_ref=tokens[alert.account_ref], owner_ref=None
            )
    for payment_id, decision in list(s.decisions.items()):
        if decision.account_ref in tokens:
            s.decisions[payment_id] = replace(
                decision, account_ref=tokens[decision.account_ref], owner_ref=None
            )
    return changed


class MemoryParked(_Repo):
    async def park(self, activity: Activity, parked_at: datetime, deadline: datetime) -> None:
        if all(a.ref != activity.ref for a, _, _ in self.store.parked):
            self.journal.append(self.store.parked, (activity, parked_at, deadline))

    async def park_many(
        self, activities: Sequence[Activity], parked_at: datetime, deadline: datetime
    ) -> None:
        for activity in activities:
            await self.park(activity, parked_at, deadline)

    async def take_for_owner(self, owner_ref: str) -> list[Activity]:
        return [a for a, _, _ in self._take(lambda a, _: a.owner_ref == owner_ref, None)]

    async def take_due(self, now: datetime, limit: int) -> list[tuple[Activity, bool]]:
        members = self.store.members

        def due(a: Activity, deadline: datetime) -> bool:
            return deadline <= now or bool(a.owner_ref and a.owner_ref in members)

        taken = self._take(due, limit)
        return [(a, d <= now and a.owner_ref not in members) for a, _, d in taken]

    def _take(
        self, keep: Callable[[Activity, datetime], bool], limit: int | None
    ) -> list[tuple[Activity, datetime, datetime]]:
        s = self.store
        taken = sorted([p for p in s.parked if keep(p[0], p[2])], key=lambda p: p[1])[:limit]
        before = list(s.parked)
        self.journal.steps.append(lambda: s.parked.__setitem__(slice(None), before))
        s.parked[:] = [p for p in s.parked if p not in taken]
        return sorted(taken, key=lambda p: p[1])
