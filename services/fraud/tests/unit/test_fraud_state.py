from __future__ import annotations

import json
import math
import statistics
from datetime import timedelta

import pytest
from fraud.domain.activity import SecuritySignal, SignalKind
from fraud.domain.features import extract
from fraud.domain.state import (
    MAX_DEVICES,
    MAX_PAYEES,
    MAX_RECENT,
    AccountState,
    OwnerSecurityState,
    Welford,
    fingerprint,
)
from fraud_builders import T0, payment, transaction

pytestmark = pytest.mark.unit


def test_welford_matches_the_textbook_mean_and_variance() -> None:
    values = [3.0, 1.5, 8.25, 4.0, 4.0, 9.5, 0.25]
    stats = Welford()
    for v in values:
        stats.add(v)
    assert stats.mean == pytest.approx(statistics.mean(values))
    assert stats.variance == pytest.approx(statistics.variance(values))


def test_outflows_feed_the_history_and_credits_do_not() -> None:
    state = AccountState("acct-1")
    state.observe(transaction(amount="2500.00"))
    assert state.amounts.n == 0
    assert state.revision == 0
    state.observe(payment(amount="40.00"))
    assert state.amounts.n == 1
    assert state.amounts.mean == pytest.approx(math.log1p(40.0))
    assert state.payees == ["payee-known-0001"]
    assert state.hours[T0.hour] == 1


def test_dated_transactions_do_not_feed_the_hour_profile() -> None:
    state = AccountState("acct-1")
    state.observe(transaction())
    assert sum(state.hours) == 0
    assert state.amounts.n == 1


def test_recent_outflows_are_kept_for_24_hours_only() -> None:
    state = AccountState("acct-1")
    state.observe(payment("p1", at=T0))
    state.observe(payment("p2", at=T0 + timedelta(hours=23)))
    assert len(state.recent) == 2
    state.observe(payment("p3", at=T0 + timedelta(hours=24, seconds=1)))
    assert [r.ts for r in state.recent] == [
        (T0 + timedelta(hours=23)).timestamp(),
        (T0 + timedelta(hours=24, seconds=1)).timestamp(),
    ]


def test_late_outflow_is_inserted_in_time_order() -> None:
    state = AccountState("acct-1")
    state.observe(payment("p1", at=T0 + timedelta(minutes=10)))
    state.observe(payment("p2", at=T0))
    assert [r.ts for r in state.recent] == sorted(r.ts for r in state.recent)


def test_state_stays_bounded() -> None:
    state = AccountState("acct-1")
    for i in range(MAX_RECENT + 50):
        state.observe(payment(f"p{i}", at=T0 + timedelta(seconds=i), payee=f"payee-{i:08d}"))
    assert len(state.recent) == MAX_RECENT
    assert len(state.payees) == MAX_PAYEES
    assert state.payees[-1] == f"payee-{MAX_RECENT + 49:08d}"


def test_account_state_rebuilt_from_its_row_scores_the_same() -> None:
    state = AccountState("acct-1")
    for i in range(30):
        at = T0 + timedelta(hours=i * 3, minutes=i)
        state.observe(payment(f"p{i}", at=at, amount=f"{10 + i}.50", payee=f"payee-{i % 4:08d}"))
    row = json.loads(json.dumps(state.to_row()))
    rebuilt = AccountState.from_row(row)
    probe = payment("probe", at=T0 + timedelta(hours=91), amount="700.00", payee="payee-new-00001")
    assert extract(rebuilt, None, probe) == extract(state, None, probe)
    assert rebuilt.to_row() == state.to_row()


def test_first_device_is_remembered_but_not_new() -> None:
    owner = OwnerSecurityState("user-1")
    first = SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-home")
    assert owner.observe(first) is False
    assert owner.last_new_device_at is None
    other = SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-attacker")
    assert owner.observe(other) is True
    assert owner.last_new_device_at == T0.timestamp()
    assert owner.observe(other) is False


def test_devices_are_kept_only_as_fingerprints() -> None:
    owner = OwnerSecurityState("user-1")
    owner.observe(SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-secret-id"))
    assert "device-secret-id" not in json.dumps(owner.to_row())
    assert owner.devices == [fingerprint("device-secret-id")]


def test_device_list_is_bounded() -> None:
    owner = OwnerSecurityState("user-1")
    for i in range(MAX_DEVICES + 5):
        owner.observe(SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id=f"d{i}"))
    assert len(owner.devices) == MAX_DEVICES


def test_factor_change_is_remembered_and_state_round_trips() -> None:
    owner = OwnerSecurityState("user-1")
    owner.observe(SecuritySignal(SignalKind.FACTOR_CHANGED, "user-1", T0))
    assert owner.last_factor_change_at == T0.timestamp()
    rebuilt = OwnerSecurityState.from_row(json.loads(json.dumps(owner.to_row())))
    assert rebuilt == owner
