from __future__ import annotations

import json
from datetime import timedelta

import pytest
from fraud.domain.state import AccountState
from fraud.service.ports import AccountHead
from fraud.service.state_cache import AccountCache, SnapshotPolicy, usable
from fraud_builders import T0, payment, transaction

pytestmark = pytest.mark.unit


def _activities() -> list:  # type: ignore[type-arg]
    items = []
    for i in range(40):
        at = T0 + timedelta(minutes=37 * i)
        items.append(payment(f"p{i}", at=at, amount=f"{5 + i}.75", payee=f"payee-{i % 5:08d}"))
        items.append(transaction(f"t{i}", amount=f"-{i + 1}.10"))
    return items


def test_replaying_changes_over_a_snapshot_gives_the_observed_state() -> None:
    observed, snapshot = AccountState("acct-1"), AccountState("acct-1")
    changes = []
    for n, activity in enumerate(_activities()):
        change = observed.observe(activity)
        if change is not None:
            changes.append(change)
        if n == 30:
            snapshot = AccountState.from_row(json.loads(json.dumps(observed.to_row())))
            changes.clear()
    for change in changes:
        snapshot.apply(change)
    assert snapshot.to_row() == observed.to_row()


def test_credits_fold_nothing_and_record_no_change() -> None:
    state = AccountState("acct-1")
    assert state.observe(transaction("t1", amount="250.00")) is None
    assert state.revision == 0


def test_a_state_in_memory_is_used_only_at_the_committed_head() -> None:
    cache = AccountCache()
    state = AccountState("acct-1")
    state.observe(payment("p1", at=T0))
    cached = cache.put(state, "score-1", 0)
    assert usable(cached, AccountHead(1, "score-1"))
    assert not usable(cached, AccountHead(1, "score-other"))  # same count, other history
    assert not usable(cached, AccountHead(2, "score-2"))  # changed elsewhere
    assert not usable(cached, None)  # erased, or never committed
    assert usable(cache.put(AccountState("acct-2"), None, 0), None)


def test_a_snapshot_is_due_after_enough_changes_or_time() -> None:
    clock = [0.0]
    cache = AccountCache(
        policy=SnapshotPolicy(every_events=3, every_seconds=10), monotonic=lambda: clock[0]
    )
    state = AccountState("acct-1")
    cached = cache.put(state, None, 0)
    assert not cache.snapshot_due(cached)
    for i in range(2):
        state.observe(payment(f"p{i}", at=T0 + timedelta(minutes=i)))
    assert not cache.snapshot_due(cached)
    clock[0] = 11.0
    assert cache.snapshot_due(cached)
    cache.snapshotted(cached)
    state.observe(payment("p9", at=T0 + timedelta(minutes=9)))
    assert not cache.snapshot_due(cached)


def test_the_least_recently_used_states_leave_memory_first() -> None:
    cache = AccountCache(capacity=2)
    for name in ("a", "b"):
        cache.put(AccountState(name), None, 0)
    cache.get("a")
    cache.put(AccountState("c"), None, 0)
    assert cache.get("b") is None
    assert cache.get("a") is not None
    assert cache.get("c") is not None
