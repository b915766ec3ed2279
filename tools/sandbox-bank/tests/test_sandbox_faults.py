"""Chaos knobs: planned slow, malformed and 5xx responses, then back to normal."""

import json
import time

import httpx
import pytest
from sandbox_bank.testing import bg_headers, connect


async def accounts(client: httpx.AsyncClient, consent_id: str) -> httpx.Response:
    return await client.get("/v1/accounts", headers=bg_headers(consent_id, "192.0.2.1"))


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(("kind", "status"), [("error500", 500), ("error503", 503)])
async def test_error_fault_hits_the_next_n_requests_then_clears(
    client: httpx.AsyncClient, kind: str, status: int
) -> None:
    consent_id = await connect(client, "member-1")
    body = {"kind": kind, "count": 2, "retryAfterSeconds": 3}
    planned = await client.post("/sandbox/faults", json=body)

    responses = [await accounts(client, consent_id) for _ in range(3)]

    assert planned.status_code == 201
    assert [r.status_code for r in responses] == [status, status, 200]
    assert responses[0].headers["Retry-After"] == "3"
    assert (await client.get("/sandbox/faults")).json() == {"faults": []}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_malformed_fault_serves_unparseable_json(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")
    await client.post("/sandbox/faults", json={"kind": "malformed"})

    broken = await accounts(client, consent_id)

    assert broken.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken.content)
    assert (await accounts(client, consent_id)).json()["accounts"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_slow_fault_delays_the_response(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")
    await client.post("/sandbox/faults", json={"kind": "slow", "delaySeconds": 0.3})

    started = time.monotonic()
    slow = await accounts(client, consent_id)
    elapsed = time.monotonic() - started

    assert slow.status_code == 200
    assert elapsed >= 0.3


@pytest.mark.unit
@pytest.mark.asyncio
async def test_faults_spare_the_sandbox_controls_and_can_be_cleared(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/sandbox/faults", json={"kind": "error503", "count": 5})

    clock = await client.get("/sandbox/clock")
    cleared = await client.delete("/sandbox/faults")
    consent_id = await connect(client, "member-1")

    assert clock.status_code == 200
    assert cleared.status_code == 204
    assert (await accounts(client, consent_id)).status_code == 200


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
async def test_health_answers_200_even_while_faults_are_planned(
    client: httpx.AsyncClient, path: str
) -> None:
    await client.post("/sandbox/faults", json={"kind": "error503", "count": 5})

    assert (await client.get(path)).status_code == 200
