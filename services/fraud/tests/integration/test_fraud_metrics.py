"""Fraud's metrics on /metrics: the wait from an event's occurred_at to its committed score, and
the decisions by kind, with no account or member as a label."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from coffre_testing.metrics import scrape
from coffre_testing.waiting import eventually, until
from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from fraud_harness import Events
from fraud_it_conftest import RunningFraud

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _transaction(user: uuid.UUID, account: str, n: int) -> TransactionIngested:
    return TransactionIngested.model_validate(
        {
            "user_id": str(user),
            "account_ref": account,
            "transaction_ref": f"txn-{user.hex[:8]}-{n:04d}",
            "label": "card purchase",
            "booking_date": date.today(),
            "amount": "-12.50",
            "currency": "EUR",
            "status": "booked",
        }
    )


async def test_score_latency_and_decisions_are_recorded_once_scores_commit(
    fraud: RunningFraud, infra: object
) -> None:
    user = uuid.uuid4()
    account = f"acct-{user.hex[:12]}"
    latency = "coffre_fraud_score_latency_seconds_count"
    decisions = "coffre_fraud_decisions_total"
    before = await scrape(fraud.client)
    latencies_before = before.sample(latency, kind="transaction")
    decisions_before = before.sample(decisions, kind="transaction")
    db = fraud.container.runtime.db  # type: ignore[union-attr]
    async with Events(infra.bootstrap_servers) as events:  # type: ignore[attr-defined]
        await events.send(UserRegistered(user_id=user, method="password"), subject=str(user))

        async def known() -> bool:
            found = await db.fetchval("SELECT 1 FROM members WHERE owner_ref = $1", str(user))
            return found is not None

        await eventually(known, timeout=30)
        for n in range(3):
            await events.send(_transaction(user, account, n), subject=str(user), key=account)

    async def progress() -> dict[str, float]:
        """The metric deltas, and where the events are in the database (named if it fails)."""
        after = await scrape(fraud.client)
        return {
            "latencies": after.sample(latency, kind="transaction") - latencies_before,
            "decisions": after.sample(decisions, kind="transaction") - decisions_before,
            "scores_in_db": await db.fetchval("SELECT count(*) FROM scores"),
            "parked_in_db": await db.fetchval("SELECT count(*) FROM parked_events"),
            "inbox_in_db": await db.fetchval("SELECT count(*) FROM inbox"),
            "outbox_unsent": await db.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"),
        }

    await until(progress, lambda p: p["latencies"] >= 3 and p["decisions"] >= 3, timeout=30)
    after = await scrape(fraud.client)
    assert after.sample("coffre_fraud_score_latency_seconds_sum", kind="transaction") > 0
    assert account not in after.text
    assert str(user) not in after.text
