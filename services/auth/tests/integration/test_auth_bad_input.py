"""Every route fed garbage: always a 4xx RFC 9457 problem, never a 500, never an echo.

Each request comes from its own address (the app trusts X-Forwarded-For here), so per-IP rate
limits never answer in place of the handler; the member has both factors enrolled, so requests
reach the use cases rather than stopping at "factor not enrolled".
"""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pyotp
import pytest
import pytest_asyncio
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, bearer, last_code, login, register
from coffre_testing.infra import Infra
from test_auth_postgres import instance

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PHONE = "+33612345678"
CANARY = "zz-canary-7f3a"
OPERATION = {
    "kind": "payment", "amount": "12.50", "currency": "EUR",
    "payee": "FR7630006000011234567890189", "operation_id": "op-1",
}  # fmt: skip
JSON_ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/v1/accounts", {"email": "new@example.org"}),
    ("/v1/accounts/verify", {"token": "t" * 20, "password": PASSWORD}),
    ("/v1/password-reset", {"email": "who@example.org"}),
    ("/v1/password-reset/complete", {"token": "t" * 20, "password": PASSWORD, "proof": "123456"}),
    ("/v1/password-reset/complete", {"token": "t" * 20, "password": PASSWORD, "method": "sms"}),
    ("/v1/password-reset/sms", {"token": "t" * 20}),
    ("/v1/login", {"email": "who@example.org", "password": PASSWORD, "scope": "member"}),
    ("/v1/login/sms", {"ticket": "t" * 20}),
    ("/v1/login/second-factor", {"ticket": "t" * 20, "method": "sms", "code": "123456"}),
    ("/v1/token/refresh", {"refresh_token": "r" * 20}),
    ("/v1/factors/totp", {"proof": "123456"}),
    ("/v1/factors/totp/confirm", {"code": "123456"}),
    ("/v1/factors/sms", {"phone": "+33698765432", "proof": "123456"}),
    ("/v1/factors/sms/confirm", {"challenge_id": str(uuid.uuid4()), "code": "123456"}),
    ("/v1/factors/sms/remove", {"proof": "123456"}),
    ("/v1/factors/recovery-codes", {"proof": "123456"}),
    ("/v1/step-up/challenges", {"operation": OPERATION, "method": "totp"}),
    (f"/v1/step-up/challenges/{uuid.uuid4()}/verify", {"code": "123456"}),
    ("/v1/accounts/me/delete", {"password": "not-the-password"}),
]
BAD_VALUES: list[Any] = [
    1, 1.5, True, None, [], {}, [CANARY], {"x": CANARY}, "", " " * 20, "x" * 10_000,
    f"{CANARY}\x00", f"{CANARY}\x1b[2J", f"{CANARY}\u202e", f"{CANARY}\ud800", "\ud800",
]  # fmt: skip
RAW_BODIES: list[bytes] = [
    b"", b"{not json", b"[]", b'"text"', b"null", b"1", b"[" * 100_000, b'{"a":' * 50_000,
    b"\xff\xfe\x00", json.dumps({"unexpected": CANARY}).encode(),
]  # fmt: skip
MAY_SUCCEED = {  # still well-formed: register needs no session
    "/v1/accounts": ("anonymous",),
    "/v1/password-reset": ("anonymous",),
    "/v1/step-up/challenges": ("method missing",),
    "/v1/logout": ("after",),
}
AFTER_ALL = ["/v1/logout", "/v1/sessions/revoke-all", "/v1/accounts/me/delete"]


def _mutations(body: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for key, value in body.items():
        if isinstance(value, dict):
            for name, inner in _mutations(value, (*path, key)):
                yield name, {**body, key: inner}
            continue
        for bad in BAD_VALUES:
            yield f"{'.'.join((*path, key))}={bad!r:.24}", {**body, key: bad}
        yield f"{'.'.join((*path, key))} missing", {k: v for k, v in body.items() if k != key}


def _segment(value: Any) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


BAD_AUTHORIZATIONS: list[bytes] = [
    b"", b"Bearer", b"Bearer ", b"Basic Zm9vOmJhcg==", b"Bearer a.b", b"Bearer a.b.c",
    b"Bearer " + b"x" * 9000, "Bearer \u00e9.\u00e9.\u00e9".encode(),
    f"Bearer {_segment({'alg': ['Ed25519'], 'typ': 'at+jwt', 'kid': 'k'})}.e30.c2ln".encode(),
    f"Bearer {_segment({'alg': 'none', 'typ': 'at+jwt', 'kid': 'k'})}.e30.".encode(),
    f"Bearer {_segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'k'})}.e30.c2ln".encode(),
    f"Bearer {_segment(b'[' * 5000)}.e30.c2ln".encode(),
]  # fmt: skip


class Prober:
    """Sends requests from fresh addresses and collects every answer that is not a 4xx problem."""

    def __init__(self, client: httpx.AsyncClient, token: dict[str, str]) -> None:
        self.client, self.token = client, token
        self.addresses = (
            f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}" for n in itertools.count(1)
        )
        self.failures: list[str] = []
        self.sent = 0

    async def send(
        self, method: str, path: str, label: str, *, may_succeed: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = {"x-forwarded-for": next(self.addresses), **kwargs.pop("headers", {})}
        r = await self.client.request(method, path, headers=headers, **kwargs)
        self.sent += 1
        problem = r.headers.get("content-type", "").startswith("application/problem+json")
        body = r.json() if problem else {}
        if r.is_success and may_succeed:
            return r
        if not (400 <= r.status_code < 500 and problem and body.get("code")):
            self.failures.append(f"{method} {path} [{label}] -> {r.status_code} {r.text[:120]}")
        elif r.status_code == 429:
            self.failures.append(f"{method} {path} [{label}] -> 429 masks the handler")
        elif CANARY in r.text or "Traceback" in r.text:
            self.failures.append(f"{method} {path} [{label}] echoes its input")
        return r

    async def post_json(self, path: str, label: str, raw: bytes, auth: bool = True) -> None:
        headers = {"content-type": "application/json", **(self.token if auth else {})}
        valid = any(label.startswith(ok) for ok in MAY_SUCCEED.get(path, ()))
        await self.send("POST", path, label, content=raw, headers=headers, may_succeed=valid)


@pytest_asyncio.fixture
async def member(infra: Infra, schema_name: str) -> AsyncIterator[tuple[RunningAuth, Prober]]:
    async with instance(
        infra, schema_name, trust_forwarded_for=True, rate_sms_per_account=10_000
    ) as auth:
        c, email = auth.client, f"garbage-{uuid.uuid4().hex[:6]}@example.org"
        await register(c, auth.mailer, email)
        token = bearer((await login(c, email))["tokens"])
        secret = (await c.post("/v1/factors/totp", headers=token)).json()["secret"]
        r = await c.post(
            "/v1/factors/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=token
        )
        recovery = r.json()["recovery_codes"]
        r = await c.post(
            "/v1/factors/sms", json={"phone": PHONE, "proof": recovery[0]}, headers=token
        )
        challenge = r.json()["challenge_id"]
        r = await c.post(
            "/v1/factors/sms/confirm",
            json={"challenge_id": challenge, "code": last_code(auth.sms, PHONE)},
            headers=token,
        )
        assert r.status_code == 200, r.text
        yield auth, Prober(c, token)


async def test_every_json_route_answers_garbage_with_a_4xx_problem(
    member: tuple[RunningAuth, Prober],
) -> None:
    _, prober = member
    for path, template in JSON_ROUTES:
        for label, body in _mutations(template):
            raw = json.dumps(body).encode("utf-8", "surrogatepass")
            await prober.post_json(path, label, raw)
        for raw in RAW_BODIES:
            await prober.post_json(path, f"raw {raw[:12]!r}", raw)
        await prober.post_json(path, "anonymous", json.dumps(template).encode(), auth=False)
    assert prober.sent > 600
    assert not prober.failures, "\n".join(prober.failures[:40])


async def test_huge_bodies_are_refused_before_they_are_read(
    member: tuple[RunningAuth, Prober],
) -> None:
    _, prober = member
    huge = json.dumps({"email": "a@example.org", "password": "p" * 200_000}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b"x" * 10_000

    for path in ("/v1/login", "/v1/accounts", "/v1/step-up/challenges"):
        r = await prober.send("POST", path, "huge", content=huge, headers=prober.token)
        assert r.status_code == 413
        assert r.json()["code"] == "request.too-large"
        r = await prober.send("POST", path, "chunked", content=chunks(), headers=prober.token)
        assert r.status_code in (400, 413)
    r = await prober.send(
        "POST", "/v1/login", "lying length", content=b"{}",
        headers={"content-length": "abc", "content-type": "application/json"},
    )  # fmt: skip
    for body in (b"SAMLResponse=" + b"A" * 400_000, b"\xff\xfe", b"SAMLResponse=%00"):
        await prober.send("POST", "/v1/sso/acme/acs", "acs", content=body)
    assert not prober.failures, "\n".join(prober.failures)


async def test_bad_paths_and_bad_tokens_get_4xx_problems(
    member: tuple[RunningAuth, Prober],
) -> None:
    _, prober = member
    for path in (
        "/v1/step-up/challenges/not-a-uuid/verify", "/v1/step-up/challenges/%00/verify",
        "/v1/factors/pigeon/remove", "/v1/factors/%00/remove",
    ):  # fmt: skip
        await prober.post_json(path, "path", b'{"code": "123456", "proof": "123456"}')
    for slug in ("%00", "%ED%A0%80", "a" * 5000, "..", "%C3%A9t%C3%A9", "UPPER", "no-such"):
        for tail in ("metadata", "login"):
            await prober.send("GET", f"/v1/sso/{slug}/{tail}", "slug")
        await prober.send("POST", f"/v1/sso/{slug}/acs", "slug", content=b"SAMLResponse=PHg+")
    for query in ("", "?phone=%00", "?to=x"):
        await prober.send("GET", f"/v1/dev/sms{query}", "dev")
        await prober.send("GET", f"/v1/dev/mail{query}", "dev")
    for header in BAD_AUTHORIZATIONS:
        for method, path in (("GET", "/v1/me"), ("POST", "/v1/logout")):
            r = await prober.send(
                method, path, f"auth {header[:20]!r}", headers={"authorization": header}
            )
            assert r.status_code == 401
    for path in AFTER_ALL:
        await prober.post_json(path, "after", b"{}")
    r = await prober.send("GET", "/v1/me", "revoked session", headers=prober.token)
    assert r.status_code == 401
    assert not prober.failures, "\n".join(prober.failures)
