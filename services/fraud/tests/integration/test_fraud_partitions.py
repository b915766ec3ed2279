"""Partitions and batches of the activity consumer: a partition that moves to another replica
is scored from its snapshot and replayed changes, each event once; a lone event never waits for a
batch to fill; a decision asked over HTTP is the one the partition owner makes in order."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from coffre_testing.infra import Infra
from coffre_testing.waiting import eventually
from common.events.aggregation import TransactionIngested
from common.events.payments import PaymentInitiated
from common.messaging.kafka import ensure_topics
from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.state import AccountState
from fraud.service.ports import AccountHead
from fraud.settings import FraudSettings
from fraud_harness import Events, decide, payment_body
from fraud_it_conftest import RunningFraud, Starter

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

TOPIC = TransactionIngested.topic()


def _transaction(user: uuid.UUID, account: str, n: int) -> TransactionIngested:
    return TransactionIngested.model_validate(
        {
            "user_id": str(user),
            "account_ref": account,
            "transaction_ref": f"txn-{user.hex[:8]}-{n:04d}",
            "label": "card purchase",
            "booking_date": date.today(),
            "amount": f"-{12 + 3 * n}.50",
            "currency": "EUR",
            "status": "booked",
        }
    )


async def _send_rounds(bootstrap: str, members: list[tuple[uuid.UUID, str]], rounds: range) -> None:
    async with Events(bootstrap) as events:
        for n in rounds:
            for user, account in members:
                await events.send(_transaction(user, account, n), subject=str(user), key=account)


async def _scores(fraud: RunningFraud, accounts: list[str]) -> tuple[int, int]:
    """How many scores the accounts have, and for how many distinct activities."""
    db = fraud.container.runtime.db
    row = await db.pool.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT (kind, activity_ref)) AS distinct_n FROM scores "
        "WHERE account_ref = ANY($1::text[])",
        accounts,
    )
    assert row is not None
    return int(row["n"]), int(row["distinct_n"])


async def _committed(fraud: RunningFraud, account: str) -> tuple[AccountHead | None, AccountState]:
    """The account's committed head and state, as a replica with nothing in memory reads it."""
    probe = Activity(
        kind=ActivityKind.TRANSACTION,
        ref=f"probe-{uuid.uuid4().hex[:8]}",
        account_ref=account,
        owner_ref=None,
        amount=Decimal("-1"),
        currency="EUR",
        occurred_at=datetime.now(UTC),
        precise_time=False,
    )
    async with fraud.container.uow() as uow:
        context = await uow.scoring.load_many([probe], {})
    return context.heads.get(account), context.states[account][0]


def _assigned(fraud: RunningFraud, topic: str) -> set[int]:
    runtime = fraud.container.runtime
    assert runtime is not None
    owned: set[int] = set()
    for subscriber in runtime.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is not None:
            owned |= {tp.partition for tp in consumer.assignment() if tp.topic == topic}
    return owned


def _held(fraud: RunningFraud, account: str) -> tuple[AccountHead, dict[str, object]] | None:
    cached = fraud.container.engine.states.get(account)
    return (cached.head, cached.state.to_row()) if cached is not None else None


async def test_a_partition_moved_to_another_replica_is_scored_from_snapshot_and_replay_once(
    fraud_settings: FraudSettings, start_fraud: Starter, infra: Infra
) -> None:
    """Replica A scores four rounds; B joins (a rebalance), then A leaves and B owns every
    partition: B holds each account's committed state (snapshot + replayed changes) before any
    new event of it comes, then scores four more rounds; every transaction is scored once and
    each account's state counts every outflow once."""
    await ensure_topics(infra.bootstrap_servers, [TOPIC, PaymentInitiated.topic()], partitions=3)
    settings = fraud_settings.model_copy(
        update={"auto_register_accounts": True, "snapshot_every_events": 3}
    )
    members = [(user, f"acct-{user.hex[:12]}") for user in (uuid.uuid4() for _ in range(6))]
    accounts = [account for _, account in members]
    first = start_fraud(settings)
    a = await first.__aenter__()
    a_running = True
    try:
        await _send_rounds(infra.bootstrap_servers, members, range(1, 5))
        await eventually(lambda: _scored_at_least(a, accounts, 24), timeout=90)
        async with start_fraud(settings) as b:
            await first.__aexit__(None, None, None)
            a_running = False
            await eventually(lambda: _owns(b, {0, 1, 2}), timeout=90)
            for account in accounts:
                await eventually(lambda a=account: _holds_committed(b, a, 4), timeout=30)
            await _send_rounds(infra.bootstrap_servers, members, range(5, 9))
            await eventually(lambda: _scored_at_least(b, accounts, 48), timeout=90)
            assert await _scores(b, accounts) == (48, 48)
            for account in accounts:
                head, state = await _committed(b, account)
                assert (state.revision, state.amounts.n) == (8, 8)
                assert _held(b, account) == (head, state.to_row())
    finally:
        if a_running:
            await first.__aexit__(None, None, None)


async def _scored_at_least(fraud: RunningFraud, accounts: list[str], count: int) -> bool:
    return (await _scores(fraud, accounts))[0] >= count


async def _owns(fraud: RunningFraud, partitions: set[int]) -> bool:
    return _assigned(fraud, TOPIC) == partitions


async def _holds_committed(fraud: RunningFraud, account: str, revision: int) -> bool:
    """The replica holds the account's committed state (at ``revision``) in memory."""
    head, state = await _committed(fraud, account)
    assert state.revision == revision
    return head is not None and _held(fraud, account) == (head, state.to_row())


async def test_a_lone_event_is_scored_without_waiting_for_a_full_batch(
    fraud_settings: FraudSettings, start_fraud: Starter, infra: Infra
) -> None:
    settings = fraud_settings.model_copy(
        update={"auto_register_accounts": True, "batch_max_events": 100_000}
    )
    user = uuid.uuid4()
    account = f"acct-{user.hex[:12]}"
    async with start_fraud(settings) as fraud:
        await _send_rounds(infra.bootstrap_servers, [(user, account)], range(1, 2))
        await eventually(lambda: _scored_at_least(fraud, [account], 1), timeout=60)
        assert await _scores(fraud, [account]) == (1, 1)


async def test_a_decision_asked_before_its_event_is_the_one_the_partition_owner_makes_in_order(
    fraud_settings: FraudSettings, start_fraud: Starter, infra: Infra
) -> None:
    """The third payment of an account is asked for over HTTP before any of the account's
    payment events is published: the answer is the decision the consumer makes from the third
    event, after folding the first two, not one made at once against an empty history."""
    settings = fraud_settings.model_copy(
        update={"auto_register_accounts": True, "decision_wait_seconds": 60.0}
    )
    user = uuid.uuid4()
    owner, account = str(user), f"acct-{user.hex[:12]}"
    bodies = [
        payment_body(f"pay-{user.hex[:8]}-{n}", owner, account, amount=f"{20 + n}.00")
        for n in range(1, 4)
    ]
    async with start_fraud(settings) as fraud:
        asked = asyncio.create_task(decide(fraud.client, fraud.services.headers(), bodies[2]))
        async with Events(infra.bootstrap_servers) as events:
            for body in bodies:
                event = PaymentInitiated.model_validate(body)
                await events.send(event, subject=owner, key=account)
        response = await asyncio.wait_for(asked, timeout=90)
        assert response.status_code == 200, response.text
        db = fraud.container.runtime.db
        row = await db.pool.fetchrow(
            "SELECT s.value, s.features::text AS features FROM payment_decisions d "
            "JOIN scores s ON s.score_id = d.score_id WHERE d.payment_id = $1",
            bodies[2]["payment_id"],
        )
        _, state = await _committed(fraud, account)
    assert row is not None
    assert json.loads(row["features"])["count_1h"] == 3.0  # itself and the two before
    assert response.json()["score"] == round(row["value"], 6)
    assert (state.revision, state.amounts.n) == (3, 3)


async def test_each_replica_owns_the_same_partitions_of_payments_and_transactions(
    fraud_settings: FraudSettings, start_fraud: Starter, infra: Infra
) -> None:
    """Payments and transactions are both keyed by account: with two replicas, each is assigned
    the same partition numbers of both topics, so an account's activity reaches one replica
    (round-robin assignment split them, and both replicas kept rebuilding the same accounts)."""
    payments = PaymentInitiated.topic()
    await ensure_topics(infra.bootstrap_servers, [TOPIC, payments], partitions=3)
    async with start_fraud(fraud_settings) as a, start_fraud(fraud_settings) as b:

        async def split() -> bool:
            owned = [_assigned(a, TOPIC), _assigned(b, TOPIC)]
            return all(owned) and owned[0] | owned[1] == {0, 1, 2} and not owned[0] & owned[1]

        await eventually(split, timeout=90)
        for replica in (a, b):
            assert _assigned(replica, payments) == _assigned(replica, TOPIC)
