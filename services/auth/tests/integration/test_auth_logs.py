"""What auth writes to its logs: refusals are there (with the client address), secrets never."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from auth_it_helpers import PASSWORD, UA, bearer, enrol_totp_then_sms, last_code, login, register
from coffre_testing.infra import Infra
from test_auth_postgres import instance

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PHONE = "+33655443322"
IBAN = "FR7630006000011234567890189"


def _lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


async def test_logs_record_refusals_and_never_a_secret(
    capsys: pytest.CaptureFixture[str], infra: Infra, schema_name: str
) -> None:
    async with instance(infra, schema_name) as a:
        c, email = a.client, f"log-{uuid.uuid4().hex[:6]}@example.org"
        await register(c, a.mailer, email)
        await c.post("/v1/login", json={"email": email, "password": PASSWORD + "x"})
        tokens = (await login(c, email))["tokens"]
        auth = bearer(tokens)
        secret, recovery, sms_code = await enrol_totp_then_sms(c, a.sms, auth, PHONE)
        codes = [sms_code]
        operation = {"kind": "payment", "amount": "5", "currency": "EUR", "payee": IBAN,
                     "operation_id": "log-1"}  # fmt: skip
        r = await c.post("/v1/step-up/challenges", json={"operation": operation}, headers=auth)
        codes.append(last_code(a.sms, PHONE))
        await c.post(
            f"/v1/step-up/challenges/{r.json()['challenge_id']}/verify",
            json={"code": codes[1]},
            headers=auth,
        )
        forged = tokens["access_token"][:-4] + "AAAA"
        await c.get("/v1/me", headers={"authorization": f"Bearer {forged}", **UA})
        await c.post("/v1/token/refresh", json={"refresh_token": "made-up-refresh-token"})
        await c.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
        await c.post("/v1/token/refresh", json={"refresh_token": tokens["refresh_token"]})
    text = capsys.readouterr().out
    events = {line.get("event") for line in _lines(text)}
    assert {"access_token_refused", "refresh_token_refused", "sms_recorded"} <= events
    refused = [line for line in _lines(text) if line.get("event") == "access_token_refused"]
    assert refused[0]["ip"]
    for value in (PASSWORD, secret, IBAN, forged, tokens["access_token"], *recovery):
        assert value not in text
    assert tokens["refresh_token"] not in text
    for code in codes:
        assert not re.search(rf"\b{code}\b", text)
