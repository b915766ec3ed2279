"""Auth's metrics on /metrics: sign-ins by outcome and stage, second-factor failures and
lockouts, counted from what was committed, with no member id, address or code as a label."""

from __future__ import annotations

import time
import uuid

import pyotp
import pytest
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, UA, bearer, login, register
from coffre_testing.metrics import scrape

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _wrong_code(totp: pyotp.TOTP) -> str:
    now = time.time()
    valid = {totp.at(now + step) for step in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(1000, 2000)) if c not in valid)


async def test_logins_second_factor_failures_and_lockouts_are_counted(auth: RunningAuth) -> None:
    c = auth.client
    email = f"metrics-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    before = await scrape(c)
    tokens = (await login(c, email))["tokens"]
    secret = (await c.post("/v1/factors/totp", headers=bearer(tokens))).json()["secret"]
    totp = pyotp.TOTP(secret)
    confirm = {"code": totp.now()}
    assert (
        await c.post("/v1/factors/totp/confirm", json=confirm, headers=bearer(tokens))
    ).status_code == 200
    ticket = (await login(c, email))["ticket"]
    complete = {"ticket": ticket, "method": "totp", "code": _wrong_code(totp)}
    assert (await c.post("/v1/login/second-factor", json=complete)).status_code == 401
    wrong = {"email": email, "password": "wrong-" + PASSWORD}
    for _ in range(4):  # with the wrong code, five failures in a row: the account locks
        assert (await c.post("/v1/login", json=wrong, headers=UA)).status_code == 401
    assert (await c.post("/v1/login", json=wrong, headers=UA)).status_code == 423
    after = await scrape(c)

    def delta(name: str, **labels: str) -> float:
        return after.since(before, name, **labels)

    logins = "coffre_auth_logins_total"
    assert delta(logins, outcome="succeeded", stage="password") == 1
    assert delta(logins, outcome="failed", stage="second-factor") == 1
    assert delta(logins, outcome="failed", stage="password") == 4
    failures = "coffre_auth_second_factor_failures_total"
    assert delta(failures, flow="login") == 1
    assert delta("coffre_auth_lockouts_total", scope="account") == 1
    assert email not in after.text
    assert secret not in after.text
