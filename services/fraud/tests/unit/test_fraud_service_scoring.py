from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from common.events.fraud import FraudAlertRaised, TransactionScored
from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.domain.errors import DecisionMismatch, OwnerMismatch, UnknownAccount
from fraud.domain.records import HoldStatus, Outcome
from fraud.domain.scoring import Decision
from fraud.service.engine import Engine
from fraud.service.parking import release_due
from fraud.service.scoring import decide_payment, score_activities, score_transaction
from fraud.service.signals import register_member
from fraud_builders import T0, StepClock, payment, transaction

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]
Uow = Callable[[], MemoryUnitOfWork]


def _types(store: MemoryStore) -> list[type]:
    return [type(event) for event, _ in store.outbox]


async def test_scored_transaction_is_recorded_and_published(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    record = await score_transaction(transaction(), uow(), engine)
    assert store.scores[record.score_id] == record
    assert _types(store) == [TransactionScored]
    event, subject = store.outbox[0]
    assert isinstance(event, TransactionScored)
    assert (event.activity_ref, event.decision, subject) == ("txn-1", "pass", "user-1")
    assert store.accounts["acct-1"]["amounts"][0] == 1


async def test_transaction_scored_twice_keeps_its_first_score_and_history(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    first = await score_transaction(transaction(), uow(), engine)
    again = await score_transaction(transaction(), uow(), engine)
    assert again == first
    assert store.accounts["acct-1"]["amounts"][0] == 1
    assert len(store.outbox) == 1


async def test_transaction_of_a_member_not_registered_yet_is_parked_not_rejected(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    parked = await score_transaction(
        transaction(account="acct-new", owner="user-late"), uow(), engine
    )
    assert parked is None
    assert not store.scores
    assert not store.outbox
    assert [a.ref for a, _, _ in store.parked] == ["txn-1"]


async def test_registering_the_member_scores_what_was_parked_for_them(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    await score_transaction(transaction(account="acct-new", owner="user-late"), uow(), engine)
    assert await register_member("user-late", uow(), engine) == 1
    (record,) = store.scores.values()
    assert (record.owner_ref, record.account_ref) == ("user-late", "acct-new")
    assert store.directory["acct-new"] == "user-late"
    assert not store.parked


async def test_a_parked_transaction_past_its_wait_is_scored_as_of_an_unknown_owner(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await score_transaction(transaction(account="acct-new", owner="user-never"), uow(), engine)
    assert await release_due(uow, engine) == 0
    clock.advance(seconds=engine.park_timeout.total_seconds() + 1)
    assert await release_due(uow, engine) == 1
    (record,) = store.scores.values()
    assert (record.owner_ref, record.account_ref) == (None, "acct-new")
    assert "acct-new" not in store.directory
    assert not store.parked
    assert _types(store) == [TransactionScored]


async def test_a_parked_transaction_of_an_account_owned_by_another_is_dropped_not_failing(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    await score_transaction(transaction(account="acct-new", owner="user-late"), uow(), engine)
    await register_member("user-7", uow(), engine)
    await score_transaction(transaction("txn-7", account="acct-new", owner="user-7"), uow(), engine)
    assert await register_member("user-late", uow(), engine) == 1
    assert store.members["user-late"]
    assert [r.activity_ref for r in store.scores.values()] == ["txn-7"]
    assert not store.parked


async def test_a_transaction_of_an_erased_member_is_dropped_not_stored(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    store.erased.add("user-1")
    assert await score_transaction(transaction(), uow(), engine) is None
    assert not store.scores
    assert not store.parked
    assert not store.outbox


async def test_a_batch_parks_and_drops_transactions_while_scoring_the_others(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    store.erased.add("user-gone")
    batch = [
        transaction("txn-1"),
        transaction("txn-2", account="acct-new", owner="user-late"),
        transaction("txn-3", account="acct-gone", owner="user-gone"),
        transaction("txn-4", amount="-30.00"),
    ]
    scored = await score_activities(batch, uow(), engine, park=True)
    assert [s.score.activity_ref if s else None for s in scored] == ["txn-1", None, None, "txn-4"]
    assert [a.ref for a, _, _ in store.parked] == ["txn-2"]
    assert sorted(r.activity_ref for r in store.scores.values()) == ["txn-1", "txn-4"]
    assert "acct-gone" not in store.directory


async def test_a_parked_transaction_is_released_once_its_owner_is_known(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    await score_transaction(transaction(account="acct-new", owner="user-late"), uow(), engine)
    store.members["user-late"] = True
    assert await release_due(uow, engine) == 1
    (record,) = store.scores.values()
    assert record.owner_ref == "user-late"


async def test_account_of_another_owner_is_rejected(uow: Uow, engine: Engine) -> None:
    with pytest.raises(OwnerMismatch):
        await score_transaction(transaction(account="acct-2", owner="user-1"), uow(), engine)


async def test_unknown_account_is_registered_when_configured(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    engine.auto_register_accounts = True
    await score_transaction(transaction(account="acct-9", owner="user-9"), uow(), engine)
    assert store.directory["acct-9"] == "user-9"


async def test_new_account_of_a_registered_member_is_accepted(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    await register_member("user-7", uow(), engine)
    await score_transaction(transaction(account="acct-7", owner="user-7"), uow(), engine)
    assert store.directory["acct-7"] == "user-7"


async def test_unknown_account_without_an_owner_is_rejected_even_when_registering(
    uow: Uow, engine: Engine
) -> None:
    engine.auto_register_accounts = True
    with pytest.raises(UnknownAccount):
        await score_transaction(transaction(account="acct-9", owner=None), uow(), engine)


async def test_quiet_payment_is_cleared_to_execute(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    decision = (await decide_payment(payment(), uow(), engine)).decision
    assert decision.decision is Decision.PASS
    assert decision.outcome is Outcome.EXECUTE
    assert decision.alert_id is None
    assert _types(store) == [TransactionScored]


async def _card_testing(uow: Uow, engine: Engine, clock: StepClock, n: int) -> list[Decision]:
    decisions = []
    for i in range(n):
        at = clock.advance(seconds=20)
        made = await decide_payment(payment(f"ct-{i}", amount="1.00", at=at), uow(), engine)
        decisions.append(made.decision.decision)
    return decisions


async def test_card_testing_burst_is_held_then_blocked(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    decisions = await _card_testing(uow, engine, clock, 6)
    assert decisions[:3] == [Decision.PASS] * 3
    assert Decision.REVIEW in decisions
    assert decisions[-1] is Decision.BLOCK
    held = [d for d in store.decisions.values() if d.decision is Decision.REVIEW]
    assert all(d.status is HoldStatus.HELD and d.outcome is Outcome.HOLD for d in held)
    blocked = store.decisions["ct-5"]
    assert blocked.outcome is Outcome.REFUSE
    assert blocked.alert_id in store.alerts


async def test_review_and_block_raise_an_alert_with_reasons(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _card_testing(uow, engine, clock, 6)
    alerts = [e for e, _ in store.outbox if isinstance(e, FraudAlertRaised)]
    flagged = [d for d in store.decisions.values() if d.decision is not Decision.PASS]
    assert len(alerts) == len(flagged) == len(store.alerts)
    assert all(a.reasons and a.reasons[0].code == "card_testing" for a in alerts)


async def test_payment_decided_twice_returns_the_first_decision(
    store: MemoryStore, uow: Uow, engine: Engine
) -> None:
    first = await decide_payment(payment(), uow(), engine)
    again = await decide_payment(payment(), uow(), engine)
    assert again.decision.score_id == first.decision.score_id
    assert again.score == first.score
    assert len(store.scores) == 1
    assert len(store.outbox) == 1


async def test_same_payment_id_with_another_amount_is_a_conflict(uow: Uow, engine: Engine) -> None:
    await decide_payment(payment(), uow(), engine)
    changed = replace(payment(), amount=-Decimal("9999.00"))
    with pytest.raises(DecisionMismatch):
        await decide_payment(changed, uow(), engine)


async def test_score_records_the_model_version_and_scoring_time(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    clock.advance(minutes=5)
    record = await score_transaction(transaction(), uow(), engine)
    assert record.scored_at == T0 + timedelta(minutes=5)
    assert record.model_version == 0
