"""Shortcuts auth's integration tests share (imported by name: this folder is on sys.path)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pyotp

PASSWORD = "violet-harbour-tundra-42"
UA = {"user-agent": "coffre-it/1.0"}


async def register(
    client: httpx.AsyncClient, mailer: Any, email: str, password: str = PASSWORD
) -> str:
    """Register the one way there is: ask for a link, redeem it choosing the password."""
    r = await client.post("/v1/accounts", json={"email": email}, headers=UA)
    assert r.status_code == 202, r.text
    token = mailer.last_link_token(email)
    r = await client.post("/v1/accounts/verify", json={"token": token, "password": password})
    assert r.status_code == 201, r.text
    return str(r.json()["user_id"])


async def login(client: httpx.AsyncClient, email: str, **extra: Any) -> dict[str, Any]:
    r = await client.post(
        "/v1/login", json={"email": email, "password": PASSWORD, **extra}, headers=UA
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"authorization": f"Bearer {tokens['access_token']}", **UA}


def last_code(sms: Any, phone: str) -> str:
    found = re.search(r"\b(\d{6})\b", sms.last_to(phone).text)
    assert found is not None
    return found.group(1)


async def enrol_totp_then_sms(
    client: httpx.AsyncClient, sms: Any, auth: dict[str, str], phone: str
) -> tuple[str, list[str], str]:
    """Enrol an authenticator app, then a phone (proved with a recovery code).

    Returns the TOTP secret, the recovery codes and the SMS code that confirmed the phone.
    """
    secret = str((await client.post("/v1/factors/totp", headers=auth)).json()["secret"])
    r = await client.post(
        "/v1/factors/totp/confirm", json={"code": pyotp.TOTP(secret).now()}, headers=auth
    )
    recovery: list[str] = r.json()["recovery_codes"]
    r = await client.post(
        "/v1/factors/sms", json={"phone": phone, "proof": recovery[0]}, headers=auth
    )
    code = last_code(sms, phone)
    await client.post(
        "/v1/factors/sms/confirm",
        json={"challenge_id": r.json()["challenge_id"], "code": code},
        headers=auth,
    )
    return secret, recovery, code


async def pool_is_whole(runtime: Any, wait: float = 10.0) -> bool:
    """Every connection of the service's pool but the one the outbox relay keeps for its
    whole run can be held at once (waiting at most ``wait`` for borrowers to give them back)."""
    pool, held = runtime.db.pool, []
    try:
        for _ in range(pool.get_max_size() - 1):
            held.append(await pool.acquire(timeout=wait))
    except TimeoutError:
        return False
    finally:
        for conn in held:
            await pool.release(conn)
    return True
