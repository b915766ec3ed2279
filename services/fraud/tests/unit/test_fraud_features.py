from __future__ import annotations

import math
from datetime import timedelta

import pytest
from fraud.domain.activity import SecuritySignal, SignalKind
from fraud.domain.features import FEATURE_NAMES, MIN_HISTORY, extract
from fraud.domain.state import AccountState, OwnerSecurityState
from fraud_builders import T0, payment, transaction

pytestmark = pytest.mark.unit


def _history(n: int = 30, *, amount: str = "20.00", hour: int = 10) -> AccountState:
    state = AccountState("acct-1")
    for i in range(n):
        at = (T0 - timedelta(days=n - i)).replace(hour=hour)
        state.observe(payment(f"h{i}", at=at, amount=amount, payee=f"payee-{i % 3:08d}"))
    return state


def _owner(*signals: tuple[SignalKind, str | None, int]) -> OwnerSecurityState:
    owner = OwnerSecurityState("user-1")
    for kind, device, minutes_before in signals:
        at = T0 - timedelta(minutes=minutes_before)
        owner.observe(SecuritySignal(kind, "user-1", at, device_id=device))
    return owner


def test_feature_vector_has_every_named_feature() -> None:
    features = extract(AccountState("acct-1"), None, payment())
    assert set(features) == set(FEATURE_NAMES)
    assert all(math.isfinite(v) for v in features.values())


def test_velocity_counts_include_the_scored_activity() -> None:
    state = AccountState("acct-1")
    for i in range(3):
        state.observe(payment(f"p{i}", at=T0 - timedelta(minutes=10 * (i + 1))))
    state.observe(payment("old", at=T0 - timedelta(hours=2)))
    f = extract(state, None, payment("now"))
    assert f["count_1h"] == 4
    assert f["count_24h"] == 5


def test_dated_transactions_never_count_towards_one_hour_features() -> None:
    state = AccountState("acct-1")
    state.observe(transaction("t1"))
    f = extract(state, None, transaction("t2"))
    assert f["count_1h"] == 0
    assert f["count_24h"] == 2
    assert f["hour_rarity"] == 0
    assert f["small_burst"] == 0


def test_amount_zscore_needs_history() -> None:
    short = _history(MIN_HISTORY - 1)
    assert extract(short, None, payment(amount="5000.00"))["amount_zscore"] == 0
    long = _history(MIN_HISTORY + 10)
    assert extract(long, None, payment(amount="5000.00"))["amount_zscore"] > 10


def test_usual_amount_has_a_small_zscore_even_for_a_constant_history() -> None:
    assert abs(extract(_history(), None, payment(amount="20.00"))["amount_zscore"]) < 0.5


def test_payee_never_paid_before_is_new() -> None:
    state = _history()
    assert extract(state, None, payment(payee="payee-00000001"))["new_payee"] == 0
    assert extract(state, None, payment(payee="payee-brand-new"))["new_payee"] == 1


def test_hour_never_used_by_the_account_is_rare() -> None:
    state = _history(hour=10)
    assert extract(state, None, payment(at=T0.replace(hour=10)))["hour_rarity"] == 0
    assert extract(state, None, payment(at=T0.replace(hour=3)))["hour_rarity"] == 1


def test_small_amounts_within_ten_minutes_form_a_burst() -> None:
    state = AccountState("acct-1")
    for i in range(4):
        state.observe(payment(f"s{i}", amount="1.00", at=T0 - timedelta(minutes=i + 1)))
    state.observe(payment("old", amount="1.00", at=T0 - timedelta(minutes=30)))
    assert extract(state, None, payment(amount="2.00"))["small_burst"] == 5
    assert extract(state, None, payment(amount="60.00"))["small_burst"] == 0


def test_round_amounts_are_whole_hundreds() -> None:
    state = AccountState("acct-1")
    assert extract(state, None, payment(amount="500.00"))["round_amount"] == 1
    assert extract(state, None, payment(amount="550.00"))["round_amount"] == 0
    assert extract(state, None, payment(amount="50.00"))["round_amount"] == 0


def test_payment_soon_after_a_new_device_login_is_marked() -> None:
    owner = _owner((SignalKind.LOGIN, "device-home", 600), (SignalKind.LOGIN, "device-evil", 5))
    f = extract(AccountState("acct-1"), owner, payment(device="device-evil"))
    assert f["after_new_device"] == 1
    assert f["unknown_device"] == 0


def test_new_device_login_stops_mattering_after_its_window() -> None:
    owner = _owner((SignalKind.LOGIN, "device-home", 600), (SignalKind.LOGIN, "device-x", 45))
    assert extract(AccountState("acct-1"), owner, payment())["after_new_device"] == 0


def test_payment_from_a_device_never_seen_is_marked() -> None:
    owner = _owner((SignalKind.LOGIN, "device-home", 600))
    f = extract(AccountState("acct-1"), owner, payment(device="device-other"))
    assert f["unknown_device"] == 1


def test_payment_within_a_day_of_a_factor_change_is_marked() -> None:
    owner = _owner((SignalKind.FACTOR_CHANGED, None, 60 * 20))
    assert extract(AccountState("acct-1"), owner, payment())["after_factor_change"] == 1
    owner = _owner((SignalKind.FACTOR_CHANGED, None, 60 * 25))
    assert extract(AccountState("acct-1"), owner, payment())["after_factor_change"] == 0


def test_spending_many_usual_days_in_one_day_stands_out() -> None:
    state = _history(amount="20.00")
    for i in range(5):
        state.observe(payment(f"d{i}", at=T0 - timedelta(hours=i + 2), amount="60.00"))
    f = extract(state, None, payment(amount="60.00"))
    assert f["sum_24h_multiple"] > 10
    assert f["count_24h_ratio"] >= 5
