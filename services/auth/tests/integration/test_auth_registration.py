"""Registration over HTTP: only whoever reads the mailbox chooses an address's password."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from auth_it_conftest import RunningAuth
from auth_it_helpers import PASSWORD, UA

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

ATTACKER_PASSWORD = "attacker-chosen-passphrase-9"


def _links(auth: RunningAuth, email: str) -> list[str]:
    return [m.link_token for m in auth.mailer.messages if m.to == email and m.link_token]


async def _login_status(auth: RunningAuth, email: str, password: str) -> int:
    r = await auth.client.post("/v1/login", json={"email": email, "password": password})
    return r.status_code


async def test_a_stranger_who_registers_an_address_first_never_chooses_its_password(
    auth: RunningAuth,
) -> None:
    c, victim = auth.client, f"victim-{uuid.uuid4().hex[:6]}@example.org"
    r = await c.post("/v1/accounts", json={"email": victim, "password": ATTACKER_PASSWORD})
    assert r.status_code == 422  # a registration carries no password any more
    assert (await c.post("/v1/accounts", json={"email": victim}, headers=UA)).status_code == 202
    assert (await c.post("/v1/accounts", json={"email": victim}, headers=UA)).status_code == 202
    stranger_asked, owner_asked = _links(auth, victim)
    r = await c.post("/v1/accounts/verify", json={"token": stranger_asked, "password": PASSWORD})
    assert r.status_code == 201, r.text
    r = await c.post("/v1/accounts/verify", json={"token": owner_asked, "password": PASSWORD})
    assert r.status_code == 410
    assert r.json()["code"] == "auth.link-invalid"
    assert await _login_status(auth, victim, ATTACKER_PASSWORD) == 401
    assert await _login_status(auth, victim, PASSWORD) == 200


async def test_two_links_redeemed_at_once_create_one_account(auth: RunningAuth) -> None:
    c, email = auth.client, f"twice-{uuid.uuid4().hex[:6]}@example.org"
    for _ in range(2):
        assert (await c.post("/v1/accounts", json={"email": email})).status_code == 202
    passwords = [PASSWORD, ATTACKER_PASSWORD]
    answers = await asyncio.gather(
        *(
            c.post("/v1/accounts/verify", json={"token": token, "password": password})
            for token, password in zip(_links(auth, email), passwords, strict=True)
        )
    )
    assert sorted(r.status_code for r in answers) == [201, 410]
    winner = passwords[[r.status_code for r in answers].index(201)]
    loser = passwords[1 - passwords.index(winner)]
    assert await _login_status(auth, email, winner) == 200
    assert await _login_status(auth, email, loser) == 401
    assert await auth.runtime.db.fetchval("SELECT count(*) FROM email_links") == 0
