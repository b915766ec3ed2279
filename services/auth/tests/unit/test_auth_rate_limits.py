"""Per-account rate limits: they hold whatever address the requests come from."""

from __future__ import annotations

from dataclasses import replace

import pytest
from auth.domain.challenges import Method
from auth.domain.errors import InvalidCredentials, RateLimited
from auth.service import login, stepup
from auth.service.context import RequestContext
from auth.service.deps import AuthPolicy
from auth_unit_helpers import PASSWORD, Harness
from common.security.stepup import Operation

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

OPERATION = Operation("payment", "10", "EUR", "FR7630006000011234567890189", "p-1")


def _from(n: int) -> RequestContext:
    return RequestContext(ip=f"198.51.100.{n}", user_agent="pytest/1.0")


def _harness(**limits: int) -> Harness:
    policy = AuthPolicy()
    rates = policy.rates
    for name, limit in limits.items():
        rates = replace(rates, **{name: replace(getattr(rates, name), limit=limit)})
    return Harness(policy=replace(policy, rates=rates))


async def test_login_rate_limit_per_account_holds_across_addresses() -> None:
    h = _harness(login_per_account=3)
    await h.account()
    for n in range(3):
        await login.login(h.deps, "ada@example.org", PASSWORD, _from(n))
    with pytest.raises(RateLimited) as caught:
        await login.login(h.deps, "Ada@Example.org", PASSWORD, _from(9))
    assert 0 < caught.value.retry_after <= 300


async def test_unknown_address_is_rate_limited_like_a_known_one() -> None:
    h = _harness(login_per_account=3)
    for n in range(3):
        with pytest.raises(InvalidCredentials):
            await login.login(h.deps, "ghost@example.org", PASSWORD, _from(n))
    with pytest.raises(RateLimited):
        await login.login(h.deps, "ghost@example.org", PASSWORD, _from(9))


async def test_step_up_text_messages_count_against_the_members_sms_limit() -> None:
    h = _harness(sms_per_account=3)
    user_id = await h.account()
    await h.with_phone(user_id)
    await stepup.start_stepup(h.deps, user_id, OPERATION, Method.SMS, _from(1))
    await stepup.start_stepup(h.deps, user_id, OPERATION, Method.SMS, _from(2))
    sent = len(h.sms.messages)
    with pytest.raises(RateLimited):
        await stepup.start_stepup(h.deps, user_id, OPERATION, Method.SMS, _from(3))
    assert len(h.sms.messages) == sent
