"""Bad input over HTTP: every refusal is an RFC 9457 problem with a stable code, never a 500."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from aggregation_it_conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _problem(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code


async def test_member_routes_refuse_missing_expired_forged_and_underscoped_tokens(
    stack: Stack, member: str
) -> None:
    _problem(await stack.client.get("/v1/connections"), 401, "auth.token-invalid")
    expired = stack.tokens.token(member, iat=int(time.time()) - 900, exp=int(time.time()) - 600)
    _problem(
        await stack.client.get("/v1/connections", headers={"Authorization": f"Bearer {expired}"}),
        401, "auth.token-expired",
    )  # fmt: skip
    forged = stack.tokens.token(member, key=stack.tokens.other)
    _problem(
        await stack.client.get("/v1/connections", headers={"Authorization": f"Bearer {forged}"}),
        401, "auth.token-invalid",
    )  # fmt: skip
    _problem(
        await stack.client.get("/v1/connections", headers=stack.headers(member, scope="enrol")),
        403, "auth.insufficient-scope",
    )  # fmt: skip
    wrong_audience = {"Authorization": f"Bearer {stack.tokens.token(member, aud='another-api')}"}
    _problem(
        await stack.client.get("/v1/connections", headers=wrong_audience),
        401, "auth.token-invalid",
    )  # fmt: skip


async def test_bad_requests_are_clear_problems(stack: Stack, member: str) -> None:
    h = stack.headers(member)
    get, post = stack.client.get, stack.client.post
    _problem(
        await get("/v1/transactions/sync", params={"cursor": "Ym9ndXM"}, headers=h),
        422,
        "aggregation.cursor-invalid",
    )
    _problem(
        await get("/v1/transactions/sync", params={"cursor": "bogus!"}, headers=h),
        422,
        "request.invalid",
    )
    _problem(
        await get("/v1/transactions/sync", params={"limit": "0"}, headers=h), 422, "request.invalid"
    )
    _problem(await get("/v1/connections/not-a-uuid", headers=h), 422, "request.invalid")
    _problem(
        await get(f"/v1/connections/{uuid.uuid4()}", headers=h),
        404,
        "aggregation.connection-not-found",
    )
    _problem(
        await post("/v1/connections/callback", json={"state": "short"}, headers=h),
        422,
        "request.invalid",
    )
    _problem(
        await post("/v1/connections/callback", json={"state": "x" * 43}, headers=h),
        404,
        "aggregation.state-unknown",
    )
    _problem(
        await post("/v1/connections", json={"iban": "FR76"}, headers=h), 422, "request.invalid"
    )
    _problem(
        await post(
            "/v1/connections",
            content=b"{not json",
            headers=h | {"content-type": "application/json"},
        ),
        422,
        "request.invalid",
    )
    _problem(
        await post(f"/v1/connections/{uuid.uuid4()}/refresh", headers=h),
        404,
        "aggregation.connection-not-found",
    )


async def test_refresh_of_a_pending_connection_is_a_conflict(stack: Stack, member: str) -> None:
    started = await stack.client.post("/v1/connections", json={}, headers=stack.headers(member))
    cid = started.json()["connection_id"]
    _problem(
        await stack.client.post(f"/v1/connections/{cid}/refresh", headers=stack.headers(member)),
        409, "aggregation.connection-not-active",
    )  # fmt: skip


async def test_bank_refusal_at_the_callback_is_a_rejected_connection(
    stack: Stack, member: str
) -> None:
    started = await stack.client.post("/v1/connections", json={}, headers=stack.headers(member))
    state = await stack.bank.approve(started.json()["redirect_url"], deny=True)
    done = await stack.client.post(
        "/v1/connections/callback", json={"state": state}, headers=stack.headers(member)
    )
    assert done.status_code == 200
    assert done.json()["status"] == "rejected"
    assert await stack.db.fetchval("SELECT vault_ref FROM connections") is None
