"""Fraud's metrics: how long an event waits for its score, and the decisions made.

Rules: both are recorded once the score is committed (``after_commit`` of the unit of work),
never for a batch that rolled back; the latency runs from the event's ``occurred_at`` (when
aggregation ingested the transaction, or payments initiated the payment) to that commit, for
events scored by the consumer (a transaction parked until its owner registers is scored later
and is not in it); labels are the kind (transaction, payment) and the decision (pass, review,
block) — never an account, a member or an amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from common.events.fraud import TransactionScored
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


def count_decision(scored: TransactionScored) -> None:
    """Count one committed score by its kind and decision."""
    decisions.add(1, {"kind": scored.kind, "decision": scored.decision})


def record_latencies(scored: Sequence[tuple[str, datetime]]) -> None:
    """Record, at commit, the wait of each newly scored event: (kind, the event's occurred_at)."""
    now = datetime.now(UTC)
    for kind, occurred_at in scored:
        score_latency.record(max((now - occurred_at).total_seconds(), 0.0), {"kind": kind})
