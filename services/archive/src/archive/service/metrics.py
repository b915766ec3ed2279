"""The archive's metrics: receipts through each stage by outcome, and how long the costly stages
take.

Rules: a receipt is counted at intake (accepted or rejected) and at processing (sealed, or
deferred for a retry) once its transaction committed; stage durations time the work itself
(render to PDF, seal, store under the retention lock) with a monotonic clock; labels are a stage
and an outcome — never a receipt, a member, a file name or a hash.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from common.metrics import meter

_meter = meter("coffre.archive")

receipts = _meter.create_counter(
    "coffre.archive.receipts",
    unit="{receipt}",
    description="Receipts through a stage (intake, processing), by outcome.",
)
stage_duration = _meter.create_histogram(
    "coffre.archive.stage.duration",
    unit="s",
    description="Time one receipt spent in a costly stage: render, seal or store.",
    explicit_bucket_boundaries_advisory=[
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ],
)  # fmt: skip


def count(stage: str, outcome: str, receipts_: int = 1) -> None:
    receipts.add(receipts_, {"stage": stage, "outcome": outcome})


@contextmanager
def timed(stage: str) -> Iterator[None]:
    """Record the time the block took under ``stage`` (also when it fails)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        stage_duration.record(time.perf_counter() - started, {"stage": stage})
