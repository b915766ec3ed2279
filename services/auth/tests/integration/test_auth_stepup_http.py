"""Step-up over HTTP and at a consumer with a real ledger table: one code, one operation, once."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from auth.adapters.clock import FakeClock
from auth_it_conftest import RunningAuth
from auth_it_helpers import bearer, last_code, login, register
from coffre_testing.kafka import collect
from common.security.access_tokens import HttpJwksSource, JwksCache
from common.security.stepup import (
    Operation,
    StepUpMismatch,
    StepUpReused,
    StepUpVerifier,
)

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

PHONE = "+33611223344"
OPERATION = {
    "kind": "withdrawal", "amount": "300.00", "currency": "EUR",
    "payee": "DE89370400440532013000", "operation_id": f"wd-{uuid.uuid4().hex[:8]}",
}  # fmt: skip


class PgLedger:
    """What a consumer (payments) keeps: used authorisation ids, primary key on the id."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def record(self, authorisation_id: str, expires_at: datetime) -> bool:
        row = await self.conn.fetchval(
            "INSERT INTO used_authorisations VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING 1",
            authorisation_id,
            expires_at,
        )
        return row is not None


async def _member_with_phone(auth: RunningAuth) -> tuple[str, dict[str, str]]:
    c = auth.client
    user_id = await register(c, auth.mailer, f"kim-{uuid.uuid4().hex[:6]}@example.org")
    email = auth.mailer.messages[-1].to
    token = bearer((await login(c, email))["tokens"])
    r = await c.post("/v1/factors/sms", json={"phone": PHONE}, headers=token)
    r = await c.post(
        "/v1/factors/sms/confirm",
        json={"challenge_id": r.json()["challenge_id"], "code": last_code(auth.sms, PHONE)},
        headers=token,
    )
    assert r.status_code == 200, r.text
    return user_id, token


async def _challenge(auth: RunningAuth, token: dict[str, str], **changes: str) -> str:
    body = {"operation": {**OPERATION, **changes}, "method": "sms"}
    r = await auth.client.post("/v1/step-up/challenges", json=body, headers=token)
    assert r.status_code == 201, r.text
    return str(r.json()["challenge_id"])


async def test_code_is_refused_a_second_time_and_the_refusal_is_audited(
    auth: RunningAuth, infra: object
) -> None:
    user_id, token = await _member_with_phone(auth)
    challenge = await _challenge(auth, token)
    text = auth.sms.last_to(PHONE).text
    assert "300 EUR" in text
    assert "DE89…3000" in text
    path = f"/v1/step-up/challenges/{challenge}/verify"
    code = last_code(auth.sms, PHONE)
    assert (await auth.client.post(path, json={"code": code}, headers=token)).status_code == 200
    again = await auth.client.post(path, json={"code": code}, headers=token)
    assert again.status_code == 410
    assert again.json()["code"] == "auth.challenge-expired"
    found = await collect(
        infra.bootstrap_servers,  # type: ignore[attr-defined]
        "auth.step-up-failed.v1",
        count=1,
        where=lambda rec: rec.key == user_id.encode(),
    )
    assert json.loads(found[0].value)["payload"]["challenge_id"] == challenge


async def test_expired_challenge_is_refused(auth: RunningAuth) -> None:
    _, token = await _member_with_phone(auth)
    challenge = await _challenge(auth, token)
    code = last_code(auth.sms, PHONE)
    deps = auth.container.deps
    assert deps is not None
    real = deps.clock
    deps.clock = FakeClock(datetime.now(UTC) + timedelta(minutes=5, seconds=1))
    try:
        r = await auth.client.post(
            f"/v1/step-up/challenges/{challenge}/verify", json={"code": code}, headers=token
        )
    finally:
        deps.clock = real
    assert r.status_code == 410
    assert r.json()["code"] == "auth.challenge-expired"


async def test_consumer_refuses_another_amount_or_payee_and_a_second_use(
    auth: RunningAuth, infra: object
) -> None:
    user_id, token = await _member_with_phone(auth)
    challenge = await _challenge(auth, token)
    r = await auth.client.post(
        f"/v1/step-up/challenges/{challenge}/verify",
        json={"code": last_code(auth.sms, PHONE)},
        headers=token,
    )
    authorisation = r.json()["authorisation"]
    jwks = JwksCache(HttpJwksSource("http://testserver/.well-known/jwks.json", auth.client))
    verifier = StepUpVerifier(jwks, issuer=auth.settings.issuer)
    for changed in ({"amount": "300.01"}, {"payee": "DE89370400440532013001"}):
        with pytest.raises(StepUpMismatch):
            await verifier.verify(
                authorisation, Operation(**{**OPERATION, **changed}), subject=user_id
            )
    same = Operation(**{**OPERATION, "amount": Decimal("300")})
    conn = await asyncpg.connect(infra.database_url)  # type: ignore[attr-defined]
    try:
        await conn.execute(
            "CREATE TEMP TABLE used_authorisations (id text PRIMARY KEY, expires_at timestamptz)"
        )
        ledger = PgLedger(conn)
        assert await verifier.verify_and_consume(
            authorisation, same, subject=user_id, ledger=ledger
        )
        with pytest.raises(StepUpReused):
            await verifier.verify_and_consume(authorisation, same, subject=user_id, ledger=ledger)
    finally:
        await conn.close()
