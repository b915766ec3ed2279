"""No secret in clear in any table of auth's schema, outbox included (what a dump would show)."""

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

PHONE = "+33612345678"
IBAN = "FR7630006000011234567890189"
OPERATION = {
    "kind": "payment", "amount": "80", "currency": "EUR", "payee": IBAN, "operation_id": "p-1",
}  # fmt: skip


def _values(value: Any) -> list[Any]:
    """Every scalar in a row, with JSON and outbox envelopes opened up."""
    if isinstance(value, dict):
        return [v for item in value.values() for v in _values(item)]
    if isinstance(value, list | tuple):
        return [v for item in value for v in _values(item)]
    if isinstance(value, bytes | str):
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        try:
            return [text, *_values(json.loads(text))]
        except ValueError:
            return [text]
    return [value]


async def test_no_secret_code_token_or_full_iban_is_stored_in_clear(
    infra: Infra, schema_name: str
) -> None:
    async with instance(infra, schema_name) as a:
        c, email = a.client, f"rest-{uuid.uuid4().hex[:6]}@example.org"
        await register(c, a.mailer, email)
        await c.post("/v1/accounts", json={"email": "pending@example.org"})
        link = a.mailer.last_link_token("pending@example.org")
        tokens = (await login(c, email))["tokens"]
        auth = bearer(tokens)
        secret, recovery, sms_code = await enrol_totp_then_sms(c, a.sms, auth, PHONE)
        codes = [sms_code]
        r = await c.post("/v1/step-up/challenges", json={"operation": OPERATION}, headers=auth)
        codes.append(last_code(a.sms, PHONE))
        assert IBAN not in a.sms.last_to(PHONE).text
        r = await c.post(
            f"/v1/step-up/challenges/{r.json()['challenge_id']}/verify",
            json={"code": codes[1]},
            headers={**auth, **UA},
        )
        authorisation = r.json()["authorisation"]

        tables = await a.runtime.db.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
            schema_name,
        )
        assert {"outbox", "challenges", "recovery_codes", "email_links"} <= {
            t["table_name"] for t in tables
        }
        values: list[Any] = []
        for t in tables:
            rows = await a.runtime.db.fetch(f'SELECT * FROM "{t["table_name"]}"')
            values += [v for row in rows for v in _values(dict(row))]
        dump = " ".join(str(v) for v in values)
        secrets = [
            PASSWORD, secret, link, IBAN, authorisation, tokens["refresh_token"],
            tokens["access_token"], *recovery, *(re.sub("-", "", code) for code in recovery),
        ]  # fmt: skip
        for found in (s for s in secrets if s in dump):
            pytest.fail(f"stored in clear: {found[:6]}…")
        for code in codes:
            assert code not in [str(v) for v in values]
