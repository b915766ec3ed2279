"""Unattended access limits and retry spacing for syncs.

Rules:
- Pulls the member did not ask for are limited to `per_day` per account over any sliding 24 h
  (PSD2: 4 a day, configurable); a member's own refresh is not counted.
- Unattended pulls are spread evenly: the next is due 24 h / `per_day` after the last.
- A failed pull is retried after an exponential backoff, capped; a bank's Retry-After wins
  when it is later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

WINDOW = timedelta(hours=24)


def unattended_allowed(recent_pulls: Sequence[datetime], now: datetime, per_day: int) -> bool:
    return sum(1 for at in recent_pulls if now - at < WINDOW) < per_day


def next_unattended_slot(recent_pulls: Sequence[datetime], now: datetime, per_day: int) -> datetime:
    """When the next unattended pull may run: evenly spaced, and never over the daily limit."""
    in_window = sorted(at for at in recent_pulls if now - at < WINDOW)
    spaced = (in_window[-1] if in_window else now) + WINDOW / per_day
    if len(in_window) >= per_day:
        spaced = max(spaced, in_window[-per_day] + WINDOW)
    return max(spaced, now)


def retry_delay(
    failures: int, base: timedelta, cap: timedelta, retry_after: timedelta | None = None
) -> timedelta:
    factor: int = 2 ** max(0, failures - 1)
    delay = min(cap, base * factor)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return delay
