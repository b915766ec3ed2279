from __future__ import annotations

import pytest
from fraud.evaluation.evaluate import evaluate
from fraud.evaluation.scenarios import generate
from fraud.evaluation.synthetic import PATTERNS

pytestmark = pytest.mark.unit


def test_same_seed_gives_the_same_stream() -> None:
    first = generate(11, accounts=20, days=8)
    second = generate(11, accounts=20, days=8)
    assert first.events == second.events
    assert generate(12, accounts=20, days=8).events != first.events


def test_stream_is_time_ordered_and_labelled_with_every_pattern() -> None:
    data = generate(3, accounts=120, days=10, fraud_share=0.5)
    times = [e.at for e in data.events]
    assert times == sorted(times)
    assert {e.pattern for e in data.events if e.is_fraud} == set(PATTERNS)
    assert all(e.pattern is None for e in data.events if not e.is_fraud)


def test_synthetic_payees_are_opaque_references() -> None:
    data = generate(3, accounts=10, days=4)
    payees = {e.payload["payee_ref"] for e in data.events if e.kind == "payment"}
    assert payees
    assert all(p.startswith("payee-") for p in payees)


@pytest.mark.asyncio
async def test_scoring_catches_most_injected_fraud_with_useful_precision() -> None:
    data = generate(5, accounts=60, days=10, fraud_share=0.4)
    result = await evaluate(data)
    assert result.scored == len(data.scorable)
    assert result.confusion.recall >= 0.6
    assert result.confusion.precision >= 0.4
    by_pattern = result.recall_by_pattern()
    assert by_pattern["account_takeover"] >= 0.9
    assert result.verdicts > 0
    assert result.model_version == result.verdicts
