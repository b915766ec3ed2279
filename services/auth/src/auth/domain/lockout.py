"""Lockout: 5 consecutive failed password or code attempts lock sign-in for 30 minutes.

Rules: failures are counted per account (and, for unknown e-mail addresses, per address key,
so an unknown address answers exactly like a known one); a success resets the count; while
locked no password or code is even checked; the lock ends by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from auth.domain.errors import AccountLocked


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 5
    lock_for: timedelta = timedelta(minutes=30)


@dataclass
class FailureCount:
    key: str
    failures: int = 0
    locked_until: datetime | None = None

    def ensure_unlocked(self, now: datetime) -> None:
        if self.locked_until is not None and now < self.locked_until:
            seconds = math.ceil((self.locked_until - now).total_seconds())
            raise AccountLocked(retry_after=max(1, seconds))

    def fail(self, now: datetime, policy: LockoutPolicy) -> bool:
        """Count one failure; return True when it locks."""
        if self.locked_until is not None and now >= self.locked_until:
            self.failures, self.locked_until = 0, None
        self.failures += 1
        if self.failures >= policy.max_failures and self.locked_until is None:
            self.locked_until = now + policy.lock_for
            return True
        return False

    def succeed(self) -> None:
        self.failures, self.locked_until = 0, None
