"""CPU per event of fraud's own Python path, without broker or database (bench only).

Runs what the activity consumer does to a batch in process, on the bench's seeded events, and
prints the CPU time (``time.process_time``) of each step per event: ``decode`` (``common``'s
one-pass decoder), ``activity`` (fraud's parse and checks), ``score`` (features, rules, model,
state folded, in batches of 500), ``write-args`` (the set-based statements' arguments),
``publish`` (``TransactionScored`` / ``FraudAlertRaised`` built and recorded in ``common``'s
unit of work), ``metrics`` (latency and decision counts). CPU time depends far less on the
machine's load than wall time does, so runs on the shared machine compare. ``FRAUD_CPU_EVENTS``
(10,000) sets the number of events; the second of two passes is printed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from common.db.uow import UnitOfWork
from common.events.aggregation import TransactionIngested
from common.events.payments import PaymentInitiated
from common.messaging.decoding import EventDecoder
from common.messaging.handlers import Received
from fraud.adapters import pg_scoring
from fraud.adapters.pg_records import alert_values
from fraud.adapters.pg_uow import PgUnitOfWork
from fraud.entrypoints.consumers import _activity, _newly_scored
from fraud.service import metrics, scoring
from fraud.service.batch import Options, ScoringBatch
from fraud.service.engine import Engine
from fraud.service.ports import BatchContext, ScoringOutcome
from run import prepare

BATCH = 500


class _Recorder(PgUnitOfWork):
    """Fraud's unit of work over a ``common`` one that is never opened: events are recorded
    (serialised, as at commit) but nothing is written."""

    def __init__(self) -> None:
        super().__init__(borrowed=UnitOfWork(None, producer="fraud"))  # type: ignore[arg-type]
        self._uow = self._borrowed


def _steps(messages: list[bytes], engine: Engine) -> dict[str, float]:
    spent: dict[str, float] = {}

    def timed(name: str, step: Callable[[], Any]) -> Any:
        started = time.process_time()
        result = step()
        spent[name] = time.process_time() - started
        return result

    decoder = EventDecoder("bench", [PaymentInitiated, TransactionIngested], 1_000_000)
    decoded = timed("decode", lambda: [decoder.decode(m) for m in messages])
    received = [Received(event, envelope) for envelope, event in decoded]
    container: Any = SimpleNamespace(engine=engine)
    now = engine.clock()
    activities = timed("activity", lambda: [_activity(container, r, now) for r in received])
    batches = timed("score", lambda: _score(activities, engine))
    timed("write-args", lambda: [_write_args(outcomes) for outcomes, _ in batches])
    recorder = _Recorder()
    published = [p for _, batch in batches for p in batch]
    timed("publish", lambda: [scoring._publish(r, a, recorder) for r, a in published])
    scored = [scoring.Scored(record, None) for record, _ in published]

    def count() -> None:
        recorder._uow._run_after_commit()  # type: ignore[union-attr]
        metrics.record_latencies(_newly_scored(received, scored))

    timed("metrics", count)
    return spent


def _score(activities: list[Any], engine: Engine) -> list[tuple[list[ScoringOutcome], Any]]:
    done = []
    for start in range(0, len(activities), BATCH):
        batch = ScoringBatch(BatchContext(), engine, Options(park=True))
        for activity in activities[start : start + BATCH]:
            batch.score(activity)
        batch.snapshots()
        done.append((batch.outcomes, batch.published))
    return done


def _write_args(outcomes: list[ScoringOutcome]) -> None:
    pg_scoring._columns([pg_scoring._score(o) for o in outcomes], 12)
    pg_scoring._columns([pg_scoring._change(o) for o in outcomes if o.change is not None], 8)
    pg_scoring._columns([alert_values(o.alert) for o in outcomes if o.alert is not None], 14)


def main() -> None:
    count = int(os.environ.get("FRAUD_CPU_EVENTS", "10000"))
    messages = [message[1] for message in prepare("cpu", 101, count).messages]
    for _ in range(2):  # the first pass warms caches up; each pass scores fresh accounts
        spent = _steps(messages, Engine(auto_register_accounts=True))
    parts = " ".join(f"{name} {seconds / count * 1e6:.1f} µs" for name, seconds in spent.items())
    total = sum(spent.values()) / count * 1e6
    print(f"fraud CPU per event ({count:,} events): {parts}; total {total:.1f} µs", flush=True)


if __name__ == "__main__":
    main()
