"""Nothing the API answers tells whether an e-mail address has an account."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, UA, register

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _comparable(r: httpx.Response) -> tuple[int, str, dict[str, Any]]:
    body = {k: v for k, v in r.json().items() if k != "instance"}
    return r.status_code, r.headers["content-type"], body


async def test_registering_a_taken_address_answers_like_a_new_one(auth: RunningAuth) -> None:
    c = auth.client
    taken = f"ivy-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, taken)
    fresh = f"new-{uuid.uuid4().hex[:6]}@example.org"
    answers = []
    for email in (taken, fresh):
        r = await c.post("/v1/accounts", json={"email": email}, headers=UA)
        answers.append(_comparable(r))
    assert answers[0] == answers[1]
    assert answers[0][0] == 202
    with_password = []
    for email in (taken, fresh):
        r = await c.post("/v1/accounts", json={"email": email, "password": PASSWORD})
        with_password.append(_comparable(r))
    assert with_password[0] == with_password[1]
    assert with_password[0][0] == 422


async def test_login_answers_the_same_for_unknown_and_known_addresses_even_once_locked(
    auth: RunningAuth,
) -> None:
    c = auth.client
    known = f"jay-{uuid.uuid4().hex[:6]}@example.org"
    await register(c, auth.mailer, known)
    unknown = "ghost-" + known
    for _ in range(5):
        answers = [
            _comparable(await c.post("/v1/login", json={"email": e, "password": "x" * 14}))
            for e in (known, unknown)
        ]
        assert answers[0] == answers[1]
        assert answers[0][0] == 401
    locked = [
        await c.post("/v1/login", json={"email": e, "password": PASSWORD}) for e in (known, unknown)
    ]
    assert _comparable(locked[0]) == _comparable(locked[1])
    assert locked[0].status_code == 423
    retry = [int(r.headers["retry-after"]) for r in locked]
    assert abs(retry[0] - retry[1]) <= 2
