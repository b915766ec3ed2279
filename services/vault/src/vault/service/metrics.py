"""The vault's metrics: unwraps by outcome, audit-append latency, and whether the audit chain
verified at its last check.

Rules: labels are a mode (single or batch), an outcome (allowed, denied, failed) — never a
subject, a purpose, a key id or a caller's token; instruments are created once at import, so a
call adds to an existing counter; the unwrap counter is a per-label-set sum in memory (an unwrap
adds to an int: no attribute cleaning or hashing per call) read as an OpenTelemetry counter at
scrape or push time, under the same name; the chain gauge is absent until the first check of
the process, then 1 (verified) or 0 (tampered), read from memory at scrape time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from common.errors import CoffreError, Forbidden, Unauthenticated
from common.metrics import LATENCY_BUCKETS, meter
from opentelemetry.metrics import CallbackOptions, Observation

_meter = meter("coffre.vault")

unwrap_batch_keys = _meter.create_histogram(
    "coffre.vault.unwrap.batch_keys",
    unit="{key}",
    description="Keys per batch unwrap call.",
    explicit_bucket_boundaries_advisory=[1, 5, 10, 25, 50, 100, 250, 500, 1000],
)
audit_append = _meter.create_histogram(
    "coffre.vault.audit.append.duration",
    unit="s",
    description="Time to chain and commit one group of audit entries (callers wait for it).",
    explicit_bucket_boundaries_advisory=list(LATENCY_BUCKETS),
)
audit_append_entries = _meter.create_histogram(
    "coffre.vault.audit.append.entries",
    unit="{entry}",
    description="Audit entries committed together by the appender.",
    explicit_bucket_boundaries_advisory=[1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
)
_chain: dict[str, int] = {}
_unwraps: dict[tuple[str, str], int] = {}


def _outcome(result: object) -> str:
    if not isinstance(result, CoffreError):
        return "allowed"
    return "denied" if isinstance(result, Forbidden | Unauthenticated) else "failed"


def count_unwraps(mode: str, results: Sequence[object]) -> None:
    """Count the keys of one unwrap call (``single`` or ``batch``) by outcome."""
    if mode == "batch":
        unwrap_batch_keys.record(len(results))
    refused = [r for r in results if isinstance(r, CoffreError)]
    counts = Counter(_outcome(r) for r in refused)
    counts["allowed"] = len(results) - len(refused)
    for outcome, count in counts.items():
        if count:
            _unwraps[mode, outcome] = _unwraps.get((mode, outcome), 0) + count


def _observe_unwraps(_: CallbackOptions) -> Iterable[Observation]:
    for (mode, outcome), count in _unwraps.copy().items():  # a copy: the push reads in a thread
        yield Observation(count, {"mode": mode, "outcome": outcome})


def appended(entries: int, seconds: float) -> None:
    """Record one committed group of audit entries and the time its write took."""
    audit_append.record(seconds)
    audit_append_entries.record(entries)


def chain_checked(intact: bool) -> None:
    """Remember the result of the latest audit-chain verification."""
    _chain["intact"] = 1 if intact else 0


def _observe_chain(_: CallbackOptions) -> Iterable[Observation]:
    if "intact" in _chain:
        yield Observation(_chain["intact"])


_meter.create_observable_counter(
    "coffre.vault.unwraps",
    [_observe_unwraps],
    unit="{key}",
    description="Document keys asked for, one per key (batch items each count), by outcome.",
)
_meter.create_observable_gauge(
    "coffre.vault.audit.chain_intact",
    [_observe_chain],
    description="1 when the audit chain verified at the latest check, 0 when it was tampered.",
)
