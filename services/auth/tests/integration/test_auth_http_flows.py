"""The auth API end to end on the real Postgres and broker: what a client and payments see."""

from __future__ import annotations

import asyncio
import json
import uuid

import pyotp
import pytest
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, UA, bearer, last_code, login, pool_is_whole, register
from coffre_testing.kafka import collect
from common.security.access_tokens import (
    AccessTokenVerifier,
    HttpJwksSource,
    InvalidToken,
    JwksCache,
)
from common.security.stepup import Operation, StepUpMismatch, StepUpVerifier

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PHONE = "+33612345678"
OPERATION = {
    "kind": "payment",
    "amount": "249.90",
    "currency": "EUR",
    "payee": "FR7630006000011234567890189",
    "operation_id": "pay-it-1",
}


def _jwks(auth: RunningAuth) -> JwksCache:
    return JwksCache(HttpJwksSource("http://testserver/.well-known/jwks.json", client=auth.client))


async def test_member_signs_up_enrols_totp_and_signs_in_with_two_factors(
    auth: RunningAuth, infra: object
) -> None:
    c = auth.client
    email = f"ada-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    first = await login(c, email)
    assert first["second_factor_required"] is False
    tokens = first["tokens"]
    r = await c.post("/v1/factors/totp", headers=bearer(tokens))
    assert r.status_code == 201
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(r.json()["secret"])
    r = await c.post("/v1/factors/totp/confirm", json={"code": totp.now()}, headers=bearer(tokens))
    assert r.status_code == 200
    assert len(r.json()["recovery_codes"]) == 10
    second = await login(c, email, scope="payment")
    assert second["second_factor_required"] is True
    assert second["methods"] == ["totp", "recovery"]
    recovery = r.json()["recovery_codes"][0]
    r = await c.post(
        "/v1/login/second-factor",
        json={"ticket": second["ticket"], "method": "recovery", "code": recovery},
    )
    assert r.status_code == 200, r.text
    verifier = AccessTokenVerifier(_jwks(auth), issuer=auth.settings.issuer, audience="coffre-api")
    claims = await verifier.verify(r.json()["access_token"], required_scope="payment")
    assert claims.subject == user_id
    assert claims.methods == ("pwd", "recovery")
    assert r.headers["cache-control"] == "no-store"


async def test_step_up_by_sms_authorises_one_payment_that_payments_verifies_locally(
    auth: RunningAuth, infra: object
) -> None:
    c = auth.client
    email = f"bob-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    r = await c.post("/v1/factors/sms", json={"phone": PHONE}, headers=bearer(tokens))
    assert r.status_code == 202, r.text
    challenge = r.json()["challenge_id"]
    r = await c.post(
        "/v1/factors/sms/confirm",
        json={"challenge_id": challenge, "code": last_code(auth.sms, PHONE)},
        headers=bearer(tokens),
    )
    assert r.status_code == 200, r.text
    r = await c.post(
        "/v1/step-up/challenges",
        json={"operation": OPERATION, "method": "sms"},
        headers=bearer(tokens),
    )
    assert r.status_code == 201, r.text
    text = auth.sms.last_to(PHONE).text
    assert "249.9 EUR" in text
    assert "FR76…0189" in text
    r = await c.post(
        f"/v1/step-up/challenges/{r.json()['challenge_id']}/verify",
        json={"code": last_code(auth.sms, PHONE)},
        headers=bearer(tokens),
    )
    assert r.status_code == 200, r.text
    granted = r.json()
    verifier = StepUpVerifier(_jwks(auth), issuer=auth.settings.issuer)
    op = Operation(**OPERATION)
    assert (await verifier.verify(granted["authorisation"], op, subject=user_id)).subject
    tampered = Operation(**{**OPERATION, "payee": "DE89370400440532013000"})
    with pytest.raises(StepUpMismatch):
        await verifier.verify(granted["authorisation"], tampered, subject=user_id)


async def test_refresh_rotation_reuse_and_logout(auth: RunningAuth, infra: object) -> None:
    c = auth.client
    email = f"cy-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    r = await c.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 200
    newer = r.json()
    r = await c.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["code"] == "auth.refresh-reused"
    r = await c.post("/v1/token/refresh", json={"refresh_token": newer["refresh_token"]})
    assert r.status_code == 401
    assert r.json()["code"] == "auth.session-expired"
    r = await c.get("/v1/me", headers=bearer(newer))
    assert r.status_code == 401


async def test_events_reach_the_broker_with_actor_ip_and_no_secret(
    auth: RunningAuth, infra: object
) -> None:
    c = auth.client
    email = f"dee-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    r = await c.post("/v1/login", json={"email": email, "password": "wrong-" + PASSWORD})
    assert r.status_code == 401
    await login(c, email)
    bootstrap = infra.bootstrap_servers  # type: ignore[attr-defined]
    for topic in ("auth.user-registered.v1", "auth.login-failed.v1", "auth.login-succeeded.v1"):
        found = await collect(
            bootstrap, topic, count=1, where=lambda rec: rec.key == user_id.encode()
        )
        assert found, topic
        envelope = json.loads(found[0].value)
        assert envelope["subject"] == user_id
        assert envelope["producer"] == "auth"
        assert envelope["payload"]["actor_id"] == user_id
        assert envelope["payload"]["ip"]
        assert PASSWORD not in found[0].value.decode()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/accounts", {}),
        ("/v1/accounts", {"email": "not-an-email"}),
        ("/v1/accounts", {"email": "x@example.org", "password": PASSWORD}),
        ("/v1/login", {"email": 5, "password": []}),
        ("/v1/login/second-factor", {"ticket": "x" * 20, "method": "pigeon", "code": "1"}),
        ("/v1/login/second-factor", {"ticket": "x" * 20, "method": "totp", "code": "123456"}),
        ("/v1/token/refresh", {"refresh_token": "not-a-real-refresh-token"}),
        ("/v1/accounts/verify", {"token": "not-a-real-token-at-all"}),
        ("/v1/accounts/verify", {"token": "not-a-real-token-at-all", "password": PASSWORD}),
    ],
)
async def test_bad_input_gets_a_4xx_problem_never_a_500(
    auth: RunningAuth, path: str, body: dict[str, object]
) -> None:
    r = await auth.client.post(path, json=body, headers=UA)
    assert 400 <= r.status_code < 500, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"]
    assert "Traceback" not in r.text
    assert await pool_is_whole(auth.runtime)


async def test_malformed_json_and_tampered_bearer_tokens_are_4xx(auth: RunningAuth) -> None:
    r = await auth.client.post(
        "/v1/login", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    for header in ("Bearer abc", "Bearer a.b.c", "Basic Zm9vOmJhcg==", ""):
        r = await auth.client.get("/v1/me", headers={"authorization": header})
        assert r.status_code == 401
        assert r.json()["code"].startswith("auth.")


async def test_tampered_access_token_is_refused_by_other_services(auth: RunningAuth) -> None:
    c = auth.client
    email = f"eve-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    token = (await login(c, email))["tokens"]["access_token"]
    head, body, sig = token.split(".")
    forged = f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"
    verifier = AccessTokenVerifier(_jwks(auth), issuer=auth.settings.issuer, audience="coffre-api")
    with pytest.raises(InvalidToken):
        await verifier.verify(forged)
    r = await c.get("/v1/me", headers={"authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_jwks_is_public_and_holds_no_private_key(auth: RunningAuth) -> None:
    r = await auth.client.get("/.well-known/jwks.json")
    assert r.status_code == 200
    assert r.json()["keys"]
    assert all("d" not in k and k["alg"] == "Ed25519" for k in r.json()["keys"])


async def test_unknown_and_wrong_password_logins_look_the_same(auth: RunningAuth) -> None:
    c = auth.client
    email = f"fay-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    wrong = await c.post("/v1/login", json={"email": email, "password": "nope-" + PASSWORD})
    unknown = await c.post(
        "/v1/login", json={"email": "ghost-" + email, "password": "nope-" + PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert strip(wrong) == strip(unknown)


async def test_dev_sms_route_is_closed_outside_development(auth: RunningAuth) -> None:
    r = await auth.client.get("/v1/dev/sms", params={"phone": PHONE})
    assert r.status_code == 404


async def test_account_deletion_publishes_erasure_and_removes_the_account(
    auth: RunningAuth, infra: object
) -> None:
    c = auth.client
    email = f"gus-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    r = await c.post("/v1/accounts/me/delete", json={"password": "wrong"}, headers=bearer(tokens))
    assert r.status_code == 401
    r = await c.post("/v1/accounts/me/delete", json={"password": PASSWORD}, headers=bearer(tokens))
    assert r.status_code == 202, r.text
    request_id = r.json()["erasure_request_id"]
    bootstrap = infra.bootstrap_servers  # type: ignore[attr-defined]
    for topic in ("erasure.erasure-requested.v1", "erasure.erasure-completed.v1"):
        found = await collect(
            bootstrap, topic, count=1, where=lambda rec: rec.key == user_id.encode()
        )
        assert found, topic
        assert json.loads(found[0].value)["payload"]["request_id"] == request_id
    r = await c.post("/v1/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 401
    assert (await c.get("/v1/me", headers=bearer(tokens))).status_code == 401


async def test_five_wrong_sms_codes_lock_the_step_up_and_raise_an_alert(
    auth: RunningAuth, infra: object
) -> None:
    c = auth.client
    email = f"hal-{uuid.uuid4().hex[:6]}@example.org"
    user_id = await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    r = await c.post("/v1/factors/sms", json={"phone": PHONE}, headers=bearer(tokens))
    await c.post(
        "/v1/factors/sms/confirm",
        json={"challenge_id": r.json()["challenge_id"], "code": last_code(auth.sms, PHONE)},
        headers=bearer(tokens),
    )
    r = await c.post(
        "/v1/step-up/challenges", json={"operation": OPERATION}, headers=bearer(tokens)
    )
    challenge, right = r.json()["challenge_id"], last_code(auth.sms, PHONE)
    wrong = "000000" if right != "000000" else "111111"
    path = f"/v1/step-up/challenges/{challenge}/verify"
    statuses = [
        (await c.post(path, json={"code": wrong}, headers=bearer(tokens))).status_code
        for _ in range(5)
    ]
    assert statuses == [401] * 5
    r = await c.post(path, json={"code": right}, headers=bearer(tokens))
    assert r.status_code == 423
    assert r.json()["code"] == "auth.challenge-locked"
    found = await collect(
        infra.bootstrap_servers,  # type: ignore[attr-defined]
        "auth.challenge-locked.v1",
        count=1,
        where=lambda rec: rec.key == user_id.encode(),
    )
    assert found
    assert json.loads(found[0].value)["payload"]["purpose"] == "step-up"


async def test_every_401_names_the_bearer_scheme_and_a_refused_token_says_invalid_token(
    auth: RunningAuth,
) -> None:
    c = auth.client
    email = f"www-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, email)
    tokens = (await login(c, email))["tokens"]
    await c.post("/v1/logout", headers=bearer(tokens))
    bare = [
        await c.get("/v1/me"),
        await c.get("/v1/me", headers={"authorization": "Basic Zm9vOmJhcg=="}),
        await c.post("/v1/login", json={"email": email, "password": "wrong-" + PASSWORD}),
    ]
    refused = [
        await c.get("/v1/me", headers={"authorization": "Bearer a.b.c"}),
        await c.get("/v1/me", headers=bearer(tokens)),  # its session was logged out
    ]
    assert [r.status_code for r in bare + refused] == [401] * 5
    assert [r.headers["www-authenticate"] for r in bare] == ["Bearer"] * 3
    for r in refused:
        assert r.headers["www-authenticate"].startswith('Bearer error="invalid_token"'), r.text


async def test_a_unit_of_work_cut_short_at_any_point_gives_its_connection_back(
    auth: RunningAuth,
) -> None:
    deps = auth.container.deps
    assert deps is not None

    async def read_keys() -> None:
        async with deps.uow() as uow:
            await uow.keys.all()

    for steps in range(1000):  # every cancellation point, from the acquire to the rollback
        task = asyncio.create_task(read_keys())
        for _ in range(steps):
            await asyncio.sleep(0)
        finished = task.done()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await pool_is_whole(auth.runtime), f"a connection leaked after {steps} steps"
        if finished:
            break


async def test_stopping_auth_lets_its_maintenance_pass_finish_and_the_pool_close_whole(
    auth: RunningAuth,
) -> None:
    running = asyncio.create_task(auth.container._maintain(auth.runtime))
    auth.container._tasks.append(running)
    await asyncio.sleep(0)
    await auth.container.stop(auth.runtime)
    assert running.done()
    assert not running.cancelled()
    assert await pool_is_whole(auth.runtime)
