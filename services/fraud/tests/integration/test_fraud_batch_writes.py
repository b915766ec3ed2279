"""A batch's scores, outflows, alerts and decisions are stored as scored whatever the batch's
size: a few rows by ``INSERT … unnest``, a batch by binary COPY, the same values either way; the
checks for what was scored before probe the index, never scan a table."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fraud.adapters.pg_scoring_sql import COPY_FROM_ROWS, DECISIONS, SCORES
from fraud.bootstrap import build_engine
from fraud.domain.activity import Activity, ActivityKind
from fraud.service.scoring import score_activities
from fraud_it_conftest import RunningFraud

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)


def _payment(n: int) -> Activity:
    account = f"acct-{uuid.uuid4().hex[:10]}"
    return Activity(
        kind=ActivityKind.PAYMENT,
        ref=f"pay-{account}",
        account_ref=account,
        owner_ref=str(uuid.uuid4()),
        amount=Decimal(f"-{900 + 37 * n}.125"),
        currency="EUR",
        occurred_at=T0 + timedelta(seconds=n),
        precise_time=True,
        payee_ref=f"payee-{n:010d}",
        device_id="device-new",
    )


@pytest.mark.parametrize("size", [3, COPY_FROM_ROWS + 4])
async def test_every_score_outflow_alert_and_decision_of_a_batch_is_stored_as_scored(
    fraud: RunningFraud, size: int
) -> None:
    engine = build_engine(fraud.settings)
    engine.auto_register_accounts = True
    engine.policy = replace(engine.policy, review_at=1e-6, block_at=1.0)  # every score alerts
    activities = [_payment(n) for n in range(size)]
    scored = await score_activities(activities, fraud.container.uow(), engine)
    decisions = [s.decision for s in scored if s is not None and s.decision is not None]
    assert len(decisions) == size
    assert all(d.alert_id is not None for d in decisions), "each score must raise an alert"
    async with fraud.container.uow() as uow:
        for result in scored:
            assert result is not None
            assert result.decision is not None
            assert await uow.scores.get(result.score.score_id) == result.score
            assert await uow.decisions.get(result.decision.payment_id) == result.decision
            alert = await uow.alerts.get(result.decision.alert_id or "")
            assert alert is not None
            assert alert.score_id == result.score.score_id
        context = await uow.scoring.load_many(activities, {})
    for activity in activities:
        state, _ = context.states[activity.account_ref]
        assert state.revision == 1, "each payment is one outflow of its account"


@pytest.mark.parametrize("plan_mode", ["force_generic_plan", "force_custom_plan"])
async def test_the_checks_for_what_was_scored_before_probe_the_index_whatever_the_table_held(
    fraud: RunningFraud, plan_mode: str
) -> None:
    """Whichever plan Postgres caches, each key of the batch probes the unique index: a scan
    filtered by ``= ANY($1)`` compares each row with each key (a parameter array is not hashed
    under a generic plan), and a hash join planned while the table was nearly empty (a fresh
    schema, as here) scans the whole table for every batch once it has grown, until an ANALYZE
    happens to invalidate the cached plan."""
    keys = [f"pay-{n}" for n in range(250)]
    async with fraud.container.uow() as uow:
        conn = uow.scoring.conn
        await conn.execute(f"SET LOCAL plan_cache_mode = {plan_mode}")
        for statement, args in ((SCORES, (["payment"] * 250, keys)), (DECISIONS, (keys,))):
            plan = "\n".join(r[0] for r in await conn.fetch(f"EXPLAIN {statement}", *args))
            assert "= ANY" not in plan, plan
            assert "Index Cond" in plan, plan
            assert "Seq Scan" not in plan, plan
