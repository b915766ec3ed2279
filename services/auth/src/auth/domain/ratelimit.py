"""Rate limits: fixed windows per rule and key (an IP address or an account).

Rules: a request over a rule's limit in the current window is refused with 429 and a
Retry-After equal to the seconds left in the window; counts live in Postgres so they hold
across every auth instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class RateRule:
    name: str
    limit: int
    window: timedelta

    def window_start(self, now: datetime) -> datetime:
        seconds = int(self.window.total_seconds())
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % seconds, UTC)

    def retry_after(self, now: datetime) -> int:
        end = self.window_start(now) + self.window
        return max(1, math.ceil((end - now).total_seconds()))


@dataclass(frozen=True)
class RateLimits:
    login_per_ip: RateRule = RateRule("login-ip", 30, timedelta(minutes=5))
    login_per_account: RateRule = RateRule("login-account", 10, timedelta(minutes=5))
    register_per_ip: RateRule = RateRule("register-ip", 10, timedelta(hours=1))
    register_per_address: RateRule = RateRule("register-address", 3, timedelta(hours=1))
    reset_per_ip: RateRule = RateRule("reset-ip", 10, timedelta(hours=1))
    reset_per_address: RateRule = RateRule("reset-address", 3, timedelta(hours=1))
    link_per_ip: RateRule = RateRule("link-ip", 30, timedelta(minutes=5))
    code_per_ip: RateRule = RateRule("code-ip", 30, timedelta(minutes=5))
    sms_per_account: RateRule = RateRule("sms-account", 5, timedelta(minutes=15))
    stepup_per_account: RateRule = RateRule("stepup-account", 20, timedelta(minutes=5))
    refresh_per_ip: RateRule = RateRule("refresh-ip", 60, timedelta(minutes=1))
