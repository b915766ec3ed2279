"""Password reset over HTTP on the real Postgres and broker."""

from __future__ import annotations

import json
import time
import uuid

import pyotp
import pytest
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, UA, bearer, login, register
from coffre_testing.kafka import collect

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

NEW_PASSWORD = "copper-lantern-meadow-77"


async def test_a_reset_with_the_second_factor_revokes_every_session_on_the_broker(
    auth: RunningAuth, infra: object
) -> None:
    c, email = auth.client, f"reset-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    secret = (await c.post("/v1/factors/totp", headers=bearer(tokens))).json()["secret"]
    totp = pyotp.TOTP(secret)
    r = await c.post("/v1/factors/totp/confirm", json={"code": totp.now()}, headers=bearer(tokens))
    assert r.status_code == 200
    answers = [
        await c.post("/v1/password-reset", json={"email": e}, headers=UA)
        for e in (email, "nobody-" + email)
    ]
    assert [(r.status_code, r.json()) for r in answers] == [
        (202, {"status": "check-your-email"})
    ] * 2
    token = auth.mailer.last_link_token(email)
    body = {"token": token, "password": NEW_PASSWORD}
    r = await c.post("/v1/password-reset/complete", json=body)
    assert (r.status_code, r.json()["code"]) == (403, "auth.proof-required")
    r = await c.post("/v1/password-reset/complete", json={**body, "proof": "000000"})
    assert (r.status_code, r.json()["code"]) == (401, "auth.code-invalid")
    next_code = totp.at(int(time.time()) + 30)
    r = await c.post("/v1/password-reset/complete", json={**body, "proof": next_code})
    assert r.status_code == 200, r.text
    assert r.json() == {"sessions_revoked": 1}
    r = await c.get("/v1/me", headers=bearer(tokens))
    assert r.status_code == 401
    old = await c.post("/v1/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    r = await c.post("/v1/password-reset/complete", json={**body, "proof": totp.now()})
    assert (r.status_code, r.json()["code"]) == (410, "auth.link-invalid")
    bootstrap = infra.bootstrap_servers  # type: ignore[attr-defined]
    for topic, reason in (
        ("auth.session-revoked.v1", "password-reset"),
        ("auth.password-reset-completed.v1", None),
    ):
        found = await collect(
            bootstrap, topic, count=1, where=lambda rec: rec.key == user_id.encode()
        )
        payload = json.loads(found[0].value)["payload"]
        assert reason is None or payload["reason"] == reason
        assert NEW_PASSWORD not in found[0].value.decode()
        assert token not in found[0].value.decode()
