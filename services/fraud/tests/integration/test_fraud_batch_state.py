"""Batch scoring with account states in memory: snapshots, replays and crashes count each
outflow once, a poison event spoils only itself, and any replica decides on any account."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually
from common.events import DEAD_LETTER_TOPIC
from common.events.aggregation import TransactionIngested
from fraud.bootstrap import build_engine
from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.state import AccountState
from fraud.service.engine import Engine
from fraud.service.scoring import Scored, score_activities
from fraud.service.state_cache import AccountCache, SnapshotPolicy
from fraud.settings import FraudSettings
from fraud_harness import Events, decide, payment_body
from fraud_it_conftest import RunningFraud, Starter

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _payment(account: str, owner: str, n: int) -> Activity:
    return Activity(
        kind=ActivityKind.PAYMENT,
        ref=f"pay-{account}-{n:03d}",
        account_ref=account,
        owner_ref=owner,
        amount=Decimal(f"-{10 + 7 * n}.25"),
        currency="EUR",
        occurred_at=T0 + timedelta(minutes=13 * n),
        precise_time=True,
        payee_ref=f"payee-{n % 3:010d}",
        device_id="device-home",
    )


def _replica(settings: FraudSettings, every_events: int) -> Engine:
    """What a replica holds: its own engine and its own states in memory."""
    engine = build_engine(settings)
    engine.auto_register_accounts = True
    engine.states = AccountCache(policy=SnapshotPolicy(every_events, 3600.0))
    return engine


async def _committed_state(fraud: RunningFraud, account: str) -> AccountState:
    """The account's state as a replica with nothing in memory rebuilds it."""
    async with fraud.container.uow() as uow:
        context = await uow.scoring.load_many([_payment(account, "x", 0)], {})
    return context.states[account][0]


def _features(scored: list[Scored]) -> list[tuple[str, float, dict[str, float]]]:
    return [(s.score.activity_ref, s.score.value, s.score.features) for s in scored]


async def test_snapshot_and_replay_after_a_rebalance_give_the_same_state_and_count_once(
    fraud: RunningFraud,
) -> None:
    account, owner = f"acct-{uuid.uuid4().hex[:10]}", str(uuid.uuid4())
    activities = [_payment(account, owner, n) for n in range(1, 12)]
    alone = _replica(fraud.settings, every_events=1_000)
    expected = AccountState(account)
    for activity in activities:
        expected.observe(activity)
    a, b = _replica(fraud.settings, 4), _replica(fraud.settings, 4)
    uow = fraud.container.uow
    scored = await score_activities(activities[:4], uow(), a)  # snapshot at 4
    scored += await score_activities(activities[4:5], uow(), a)  # change 5 after it
    # rebalance: b now owns the partition, with nothing in memory; the inbox would drop a
    # redelivered event, and scoring an activity again returns its first score
    again = await score_activities(activities[2:3], uow(), b)
    assert again[0].score.score_id == scored[2].score.score_id
    scored += await score_activities(activities[5:10], uow(), b)
    # and back: a's copy is stale (b changed the account), it must be rebuilt, not trusted
    scored += await score_activities(activities[10:], uow(), a)

    reference = await _reference_scores(fraud, activities, alone)
    assert _features(scored) == reference
    state = await _committed_state(fraud, account)
    assert state.to_row() == expected.to_row()
    assert state.amounts.n == len(activities)
    db = fraud.container.runtime.db
    assert db is not None
    count = await db.fetchval("SELECT count(*) FROM scores WHERE account_ref = $1", account)
    assert count == len(activities)


async def _reference_scores(
    fraud: RunningFraud, activities: list[Activity], engine: Engine
) -> list[tuple[str, float, dict[str, float]]]:
    """The same activities, renamed to a fresh account, scored by one replica one at a time."""
    fresh = f"acct-{uuid.uuid4().hex[:10]}"
    results: list[Scored] = []
    for activity in activities:
        renamed = replace(activity, account_ref=fresh, ref=activity.ref + "-ref")
        results += await score_activities([renamed], fraud.container.uow(), engine)
    return [(r[:-4], v, f) for r, v, f in _features(results)]


def _transaction(user: uuid.UUID, account: str, n: int, **changes: object) -> TransactionIngested:
    fields: dict[str, object] = {
        "user_id": str(user),
        "account_ref": account,
        "transaction_ref": f"txn-{user.hex[:8]}-{n:04d}",
        "label": "card purchase",
        "booking_date": date.today(),
        "amount": f"-{12 + n}.50",
        "currency": "EUR",
        "status": "booked",
    }
    fields.update(changes)
    return TransactionIngested.model_validate(fields)


async def _scores_of(db, account: str) -> int:  # type: ignore[no-untyped-def]
    return int(await db.fetchval("SELECT count(*) FROM scores WHERE account_ref = $1", account))


async def test_a_poison_event_in_a_batch_is_dead_lettered_alone_and_the_others_scored_once(
    fraud_settings: FraudSettings, start_fraud: Starter, infra
) -> None:
    settings = fraud_settings.model_copy(update={"auto_register_accounts": True})
    user, other = uuid.uuid4(), uuid.uuid4()
    account = f"acct-{user.hex[:12]}"
    async with Events(infra.bootstrap_servers) as events:  # all queued before fraud starts
        for n in range(1, 4):
            await events.send(_transaction(user, account, n), subject=str(user), key=account)
        # the account is the first user's by now: another owner is a poison event mid-batch
        await events.send(_transaction(other, account, 4), subject=str(other), key=account)
        for n in range(5, 7):
            await events.send(_transaction(user, account, n), subject=str(user), key=account)
    async with start_fraud(settings) as fraud:
        db = fraud.container.runtime.db
        await eventually(lambda: _at_least(db, account, 5), timeout=60)
        dead = await collect(
            infra.bootstrap_servers,
            DEAD_LETTER_TOPIC,
            count=1,
            where=lambda r: (
                header(r, "x-dlq-consumer") == f"{settings.consumer_group_prefix}.activity"
            ),
        )
        state = await _committed_state(fraud, account)
        assert await _scores_of(db, account) == 5
    assert [header(r, "x-dlq-code") for r in dead] == ["owner-mismatch"]
    assert state.amounts.n == 5


async def _at_least(db, account: str, count: int) -> bool:  # type: ignore[no-untyped-def]
    return await _scores_of(db, account) >= count


@pytest.mark.slow
async def test_sigkill_between_batch_commit_and_offset_commit_redelivers_without_double_counting(
    fraud_settings: FraudSettings, start_fraud: Starter, infra
) -> None:
    settings = fraud_settings.model_copy(update={"auto_register_accounts": True})
    user = uuid.uuid4()
    account = f"acct-{user.hex[:12]}"
    async with Events(infra.bootstrap_servers) as events:
        for n in range(1, 7):
            await events.send(_transaction(user, account, n), subject=str(user), key=account)
    dumped = json.loads(settings.model_dump_json(exclude={"database_url"}))
    dumped["database_url"] = settings.database_url.get_secret_value()
    env = {
        **os.environ,
        "FRAUD_TEST_SETTINGS": json.dumps(dumped),
        "CRASH_AT_REF": f"txn-{user.hex[:8]}-0003",
    }
    script = Path(__file__).with_name("fraud_crash_consumer.py")
    process = await asyncio.create_subprocess_exec(sys.executable, str(script), env=env)
    assert await asyncio.wait_for(process.wait(), timeout=300) == -9

    async with start_fraud(settings) as fraud:
        db = fraud.container.runtime.db
        # a later event of the same partition is scored after every redelivered one
        async with Events(infra.bootstrap_servers) as events:
            await events.send(_transaction(user, account, 7), subject=str(user), key=account)
        await eventually(lambda: _at_least(db, account, 7), timeout=60)
        state = await _committed_state(fraud, account)
        assert await _scores_of(db, account) == 7
    assert state.amounts.n == 7
    assert state.revision == 7


async def test_any_replica_decides_on_any_account_with_its_whole_history(
    fraud_settings: FraudSettings, start_fraud: Starter, infra
) -> None:
    """Two replicas, one database, one topic: a decision asked of the replica that does not
    score the account's partition still sees every outflow the other folded, and the other
    folds the decided payment once."""
    settings = fraud_settings.model_copy(update={"auto_register_accounts": True})
    user = uuid.uuid4()
    account = f"acct-{user.hex[:12]}"
    async with start_fraud(settings) as first, start_fraud(settings) as second:
        db = first.container.runtime.db
        async with Events(infra.bootstrap_servers) as events:
            for n in range(1, 4):
                await events.send(_transaction(user, account, n), subject=str(user), key=account)
        await eventually(lambda: _at_least(db, account, 3), timeout=60)
        owner_of_partition = first if first.container.engine.states.get(account) else second
        other = second if owner_of_partition is first else first
        body = payment_body(f"pay-{user.hex[:8]}", str(user), account, amount="40.00")
        response = await decide(other.client, other.services.headers(), body)
        assert response.status_code == 200, response.text
        async with Events(infra.bootstrap_servers) as events:
            await events.send(_transaction(user, account, 5), subject=str(user), key=account)
        await eventually(lambda: _at_least(db, account, 5), timeout=60)
        state = await _committed_state(first, account)
    assert state.amounts.n == 5
    assert state.revision == 5
