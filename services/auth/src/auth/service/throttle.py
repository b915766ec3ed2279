"""Rate limiting and lockout helpers shared by the use cases.

Rules: each hit is committed on its own, so a refused or failing request still counts; a key
that is None (no client address known) is not limited by that rule.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from auth.domain.errors import RateLimited
from auth.domain.ratelimit import RateRule
from auth.service.deps import Deps

T = TypeVar("T")


async def limit(deps: Deps, rule: RateRule, key: str | None) -> None:
    """Count one request against ``rule`` for ``key``; raise RateLimited when over."""
    if key is None:
        return
    now = deps.clock.now()
    start = rule.window_start(now)
    async with deps.uow() as uow:
        count = await uow.rates.hit(rule.name, key, start, start + rule.window)
        await uow.commit()
    if count > rule.limit:
        raise RateLimited(retry_after=rule.retry_after(now))


async def in_thread(fn: Callable[..., T], *args: object) -> T:
    """Run CPU-bound work (argon2id) off the event loop; argon2 releases the GIL."""
    return await asyncio.to_thread(fn, *args)


def account_key(user_id: object) -> str:
    return f"acct:{user_id}"


def address_key(email_key: str) -> str:
    return f"email:{email_key}"
