"""Fraud's metrics: how long an event waits for its score, and the decisions made.

Rules: both are recorded once the score is committed (``after_commit`` of the unit of work),
never for a batch that rolled back; the latency runs from the event's ``occurred_at`` (when
aggregation ingested the transaction, or payments initiated the payment) to that commit, for
events scored by the consumer (a transaction parked until its owner registers is scored later
and is not in it); labels are the kind (transaction, payment) and the decision (pass, review,
block) — never an account, a member or an amount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from common.metrics import meter

_meter = meter("coffre.fraud")

score_latency = _meter.create_histogram(
    "coffre.fraud.score.latency",
    unit="s",
    description="From the event's occurred_at to the commit of its score.",
    explicit_bucket_boundaries_advisory=[
        0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
    ],
)  # fmt: skip
decisions = _meter.create_counter(
    "coffre.fraud.decisions",
    unit="{score}",
    description="Scores committed, by kind (transaction, payment) and decision.",
)


def count_decisions(counts: Counter[tuple[str, str]]) -> None:
    """Count committed scores by (kind, decision): one instrument call per pair, not per score."""
    for (kind, decision), count in counts.items():
        decisions.add(count, {"kind": kind, "decision": decision})


def record_latencies(scored: Sequence[tuple[str, datetime]]) -> None:
    """Record, at commit, the wait of each newly scored event: (kind, the event's occurred_at)."""
    now = datetime.now(UTC)
    labels: dict[str, dict[str, str]] = {}
    for kind, occurred_at in scored:
        attributes = labels.get(kind) or labels.setdefault(kind, {"kind": kind})
        score_latency.record(max((now - occurred_at).total_seconds(), 0.0), attributes)
