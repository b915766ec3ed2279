"""Features of one activity against its account's and owner's state, before it is folded in.

Rules: velocity counts and sums include the activity itself, and are also given relative to the
account's usual day (outflows a day times its typical amount); one-hour, hour-of-day, burst and
after-login features need a precise time (payments), so a dated bank transaction scores 0 on
them; an account needs ``MIN_HISTORY`` earlier outflows before its amount history or its hours
say anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from fraud.domain.activity import Activity
from fraud.domain.state import DAY, AccountState, OwnerSecurityState

HOUR = 3_600.0
MIN_HISTORY = 5
MIN_HOUR_HISTORY = 20
BURST_WINDOW = 600.0
SMALL_AMOUNT = 5.0
ROUND_UNIT = 100
NEW_DEVICE_WINDOW = 1_800.0
FACTOR_CHANGE_WINDOW = DAY
MIN_LOG_STD = 0.25

FEATURE_NAMES: tuple[str, ...] = (
    "log_amount",
    "amount_zscore",
    "count_1h",
    "sum_1h_multiple",
    "count_24h",
    "count_24h_ratio",
    "sum_24h_multiple",
    "new_payee",
    "hour_rarity",
    "small_burst",
    "round_amount",
    "after_new_device",
    "after_factor_change",
    "unknown_device",
)

Features = dict[str, float]


@dataclass(frozen=True, slots=True)
class Window:
    count: int
    total: float


def extract(
    account: AccountState, security: OwnerSecurityState | None, activity: Activity
) -> Features:
    """The feature vector of ``activity``, named as in ``FEATURE_NAMES``."""
    log_amount = math.log1p(activity.magnitude)
    typical = _typical_amount(account, activity.magnitude)
    per_day = _daily_count(account, activity)
    day = _window(account, activity, DAY, precise_only=False)
    hour = _window(account, activity, HOUR, precise_only=True)
    return {
        "log_amount": log_amount,
        "amount_zscore": _zscore(account, log_amount),
        "count_1h": float(hour.count),
        "sum_1h_multiple": hour.total / typical,
        "count_24h": float(day.count),
        "count_24h_ratio": day.count / per_day,
        "sum_24h_multiple": _spend_multiple(account, day, typical * per_day),
        "new_payee": _new_payee(account, activity),
        "hour_rarity": _hour_rarity(account, activity),
        "small_burst": float(_small_burst(account, activity)),
        "round_amount": _round_amount(activity),
        "after_new_device": _after(security, activity, "new_device", NEW_DEVICE_WINDOW),
        "after_factor_change": _after(security, activity, "factor", FACTOR_CHANGE_WINDOW),
        "unknown_device": _unknown_device(security, activity),
    }


def _typical_amount(account: AccountState, fallback: float) -> float:
    if account.amounts.n < MIN_HISTORY:
        return max(fallback, 1.0)
    return max(math.expm1(account.amounts.mean), 1.0)


def _daily_count(account: AccountState, activity: Activity) -> float:
    """The account's usual number of outflows a day (at least one; two without history)."""
    if account.amounts.n < MIN_HISTORY:
        return 2.0
    return max(1.0, account.daily_count(activity.timestamp))


def _spend_multiple(account: AccountState, day: Window, usual_daily_spend: float) -> float:
    if account.amounts.n < MIN_HISTORY:
        return 0.0
    return day.total / usual_daily_spend


def _zscore(account: AccountState, log_amount: float) -> float:
    stats = account.amounts
    if stats.n < MIN_HISTORY:
        return 0.0
    return (log_amount - stats.mean) / max(stats.std, MIN_LOG_STD)


def _in_window(
    account: AccountState, activity: Activity, span: float, *, precise_only: bool
) -> Iterator[float]:
    now = activity.timestamp
    for item in reversed(account.recent):
        if item.ts <= now - span:
            break
        if item.ts <= now and (item.precise or not precise_only):
            yield item.amount


def _window(
    account: AccountState, activity: Activity, span: float, *, precise_only: bool
) -> Window:
    if not activity.is_outflow or (precise_only and not activity.precise_time):
        return Window(0, 0.0)
    amounts = list(_in_window(account, activity, span, precise_only=precise_only))
    return Window(len(amounts) + 1, sum(amounts) + activity.magnitude)


def _new_payee(account: AccountState, activity: Activity) -> float:
    if activity.payee_ref is None:
        return 0.0
    return 0.0 if activity.payee_ref in account.payees else 1.0


def _hour_rarity(account: AccountState, activity: Activity) -> float:
    total = sum(account.hours)
    if not activity.precise_time or total < MIN_HOUR_HISTORY:
        return 0.0
    h = activity.occurred_at.hour
    near = account.hours[(h - 1) % 24] + account.hours[h] + account.hours[(h + 1) % 24]
    share = near / total
    return 1.0 - min(1.0, share / (3 / 24))


def _small_burst(account: AccountState, activity: Activity) -> int:
    if not activity.precise_time or activity.magnitude > SMALL_AMOUNT or not activity.is_outflow:
        return 0
    earlier = _in_window(account, activity, BURST_WINDOW, precise_only=True)
    return 1 + sum(1 for amount in earlier if amount <= SMALL_AMOUNT)


def _round_amount(activity: Activity) -> float:
    whole = activity.magnitude >= ROUND_UNIT and activity.amount % ROUND_UNIT == 0
    return 1.0 if whole else 0.0


def _after(
    security: OwnerSecurityState | None, activity: Activity, what: str, span: float
) -> float:
    if security is None or not activity.precise_time:
        return 0.0
    at = security.last_new_device_at if what == "new_device" else security.last_factor_change_at
    if at is None:
        return 0.0
    elapsed = activity.timestamp - at
    return 1.0 if 0 <= elapsed <= span else 0.0


def _unknown_device(security: OwnerSecurityState | None, activity: Activity) -> float:
    if security is None or activity.device_id is None or not security.devices:
        return 0.0
    return 0.0 if security.knows_device(activity.device_id) else 1.0
