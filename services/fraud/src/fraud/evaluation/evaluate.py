"""Runs the real scoring use cases over a labelled synthetic stream and measures them.

Rules: evaluation is prequential (each event is scored before any verdict on it is learnt);
an event counts as flagged when its decision is review or block; with ``feedback`` an analyst
gives the true verdict on every alert right after it is raised, which is all the model learns.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.domain.records import Verdict
from fraud.domain.scoring import Decision, ScoringPolicy
from fraud.domain.validation import parse_payment, parse_transaction
from fraud.evaluation.synthetic import Dataset, SyntheticEvent
from fraud.service.analyst import Analyst, resolve_alert
from fraud.service.engine import Engine
from fraud.service.scoring import decide_payment, score_transaction
from fraud.service.signals import record_signal

ANALYST = Analyst("synthetic-analyst")


@dataclass
class Confusion:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, *, flagged: bool, fraud: bool) -> None:
        if flagged and fraud:
            self.tp += 1
        elif flagged:
            self.fp += 1
        elif fraud:
            self.fn += 1
        else:
            self.tn += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Evaluation:
    confusion: Confusion = field(default_factory=Confusion)
    caught: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    decisions: Counter[str] = field(default_factory=Counter)
    verdicts: int = 0
    model_version: int = 0
    scored: int = 0
    seconds: float = 0.0

    def recall_by_pattern(self) -> dict[str, float]:
        return {p: self.caught[p] / n for p, n in sorted(self.injected.items()) if n}

    def summary(self) -> dict[str, object]:
        c = self.confusion
        return {
            "scored": self.scored,
            "fraud_events": c.tp + c.fn,
            "precision": round(c.precision, 4),
            "recall": round(c.recall, 4),
            "f1": round(c.f1, 4),
            "recall_by_pattern": {k: round(v, 4) for k, v in self.recall_by_pattern().items()},
            "decisions": dict(self.decisions),
            "verdicts_learnt": self.verdicts,
            "model_version": self.model_version,
        }


async def evaluate(
    dataset: Dataset, *, policy: ScoringPolicy | None = None, feedback: bool = True
) -> Evaluation:
    store = MemoryStore(directory=dict(dataset.owners))
    clock = _Clock()
    engine = Engine(policy=policy or ScoringPolicy(), clock=clock)
    result = Evaluation()
    started = time.perf_counter()
    for event in dataset.events:
        clock.now = event.at
        if event.signal is not None:
            await record_signal(event.signal, MemoryUnitOfWork(store))
            continue
        decision, alert_id = await _score(event, store, engine)
        _tally(result, event, decision)
        if feedback and alert_id is not None:
            verdict = Verdict.FRAUD if event.is_fraud else Verdict.LEGITIMATE
            await resolve_alert(alert_id, verdict, ANALYST, MemoryUnitOfWork(store), engine)
            result.verdicts += 1
    result.seconds = time.perf_counter() - started
    result.model_version = engine.models.current.version
    return result


class _Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


async def _score(
    event: SyntheticEvent, store: MemoryStore, engine: Engine
) -> tuple[Decision, str | None]:
    uow = MemoryUnitOfWork(store)
    context = {"owner_ref": event.owner_ref, "event_id": None, "now": event.at}
    if event.kind == "payment":
        activity = parse_payment(event.payload, **context)  # type: ignore[arg-type]
        decided = await decide_payment(activity, uow, engine)
        return decided.decision.decision, decided.decision.alert_id
    activity = parse_transaction(event.payload, **context)  # type: ignore[arg-type]
    record = await score_transaction(activity, uow, engine)
    if record is None:
        raise RuntimeError("evaluation members are registered first; nothing may be parked")
    alert = next((a for a in store.alerts.values() if a.score_id == record.score_id), None)
    return record.decision, alert.alert_id if alert else None


def _tally(result: Evaluation, event: SyntheticEvent, decision: Decision) -> None:
    flagged = decision is not Decision.PASS
    result.scored += 1
    result.decisions[decision.value] += 1
    result.confusion.add(flagged=flagged, fraud=event.is_fraud)
    if event.pattern:
        result.injected[event.pattern] += 1
        result.caught[event.pattern] += int(flagged)
