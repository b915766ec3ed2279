"""Consent flow: creation, SCA redirect, status, caps, deletion, expiry."""

import re
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sandbox_bank.testing import bg_headers, connect, consent_request, error_code

CALLBACK = "https://tpp.test/callback?state=abc%2F123&x=1"


async def create(
    client: httpx.AsyncClient, body: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    all_headers = {
        **bg_headers(),
        "PSU-ID": "member-1",
        "TPP-Redirect-URI": CALLBACK,
        "TPP-Nok-Redirect-URI": "https://tpp.test/nok?state=abc",
        **headers,
    }
    return await client.post(
        "/v1/consents", json=body or consent_request("2999-01-01"), headers=all_headers
    )


async def status(client: httpx.AsyncClient, consent_id: str) -> str:
    response = await client.get(f"/v1/consents/{consent_id}/status", headers=bg_headers())
    value: str = response.json()["consentStatus"]
    return value


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_is_received_until_the_member_approves_at_the_bank(
    client: httpx.AsyncClient,
) -> None:
    created = await create(client)
    assert created.status_code == 201
    body = created.json()
    consent_id = body["consentId"]
    assert body["consentStatus"] == "received"
    assert body["_links"]["status"]["href"] == f"/v1/consents/{consent_id}/status"
    refused = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert (refused.status_code, error_code(refused)) == (401, "CONSENT_INVALID")

    sca = urlsplit(body["_links"]["scaRedirect"]["href"])
    assert sca.scheme == "http"
    assert sca.path.startswith("/sca/")
    back = await client.get(sca.path)

    assert back.status_code == 302
    assert back.headers["location"] == CALLBACK
    assert await status(client, consent_id) == "valid"
    accounts = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert accounts.status_code == 200


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_id_is_a_long_url_safe_secret_never_sent_to_the_browser(
    client: httpx.AsyncClient,
) -> None:
    first, second = (await create(client)).json(), (await create(client)).json()

    assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", first["consentId"])
    assert first["consentId"] != second["consentId"]
    assert first["consentId"] not in first["_links"]["scaRedirect"]["href"]
    back = await client.get(urlsplit(first["_links"]["scaRedirect"]["href"]).path)
    assert first["consentId"] not in back.headers["location"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_denied_sca_rejects_the_consent_and_returns_to_the_nok_uri(
    client: httpx.AsyncClient,
) -> None:
    body = (await create(client)).json()
    sca = urlsplit(body["_links"]["scaRedirect"]["href"]).path

    back = await client.get(sca, params={"decision": "deny"})

    assert back.headers["location"] == "https://tpp.test/nok?state=abc"
    assert await status(client, body["consentId"]) == "rejected"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_repeated_sca_redirects_again_and_keeps_the_outcome(
    client: httpx.AsyncClient,
) -> None:
    body = (await create(client)).json()
    sca = urlsplit(body["_links"]["scaRedirect"]["href"]).path
    await client.get(sca)

    again = await client.get(sca, params={"decision": "deny"})

    assert again.status_code == 302
    assert again.headers["location"] == CALLBACK
    assert await status(client, body["consentId"]) == "valid"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_valid_until_is_capped_at_180_days_and_frequency_at_four(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, "member-1", valid_until="2999-01-01", frequency_per_day=24)
    clock = (await client.get("/sandbox/clock")).json()["now"]
    today = date.fromisoformat(clock[:10])

    consent = (await client.get(f"/v1/consents/{consent_id}", headers=bg_headers())).json()

    assert consent["validUntil"] == (today + timedelta(days=180)).isoformat()
    assert consent["frequencyPerDay"] == 4
    assert consent["access"] == {"allPsd2": "allAccounts"}


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (consent_request("2000-01-01"), {}),
        ({**consent_request("2999-01-01"), "access": {"balances": []}}, {}),
        ({**consent_request("2999-01-01"), "access": {}}, {}),
        ({**consent_request("2999-01-01"), "frequencyPerDay": 0}, {}),
        ({**consent_request("2999-01-01"), "validUntil": "tomorrow"}, {}),
        (consent_request("2999-01-01"), {"X-Request-ID": "not-a-uuid"}),
        (consent_request("2999-01-01"), {"TPP-Redirect-URI": "/relative"}),
        (consent_request("2999-01-01"), {"PSU-ID": ""}),
    ],
)
async def test_malformed_consent_request_is_a_format_error(
    client: httpx.AsyncClient, body: dict[str, Any], headers: dict[str, str]
) -> None:
    response = await create(client, body, **headers)

    assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_balances_are_refused_at_consent_time(client: httpx.AsyncClient) -> None:
    body = {**consent_request("2999-01-01"), "access": {"balances": [], "transactions": []}}

    response = await create(client, body)

    assert "balances are not offered" in response.json()["tppMessages"][0]["text"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_deleted_consent_is_invalid_afterwards(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")

    deleted = await client.delete(f"/v1/consents/{consent_id}", headers=bg_headers())

    assert deleted.status_code == 204
    assert await status(client, consent_id) == "terminatedByTpp"
    later = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert (later.status_code, error_code(later)) == (401, "CONSENT_INVALID")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_revoked_at_the_bank_is_invalid(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")

    await client.post(f"/sandbox/consents/{consent_id}/revoke")

    assert await status(client, consent_id) == "revokedByPsu"
    later = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert (later.status_code, error_code(later)) == (401, "CONSENT_INVALID")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_expired_consent_is_refused_with_consent_expired(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")

    await client.post(f"/sandbox/consents/{consent_id}/expire")

    later = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert (later.status_code, error_code(later)) == (401, "CONSENT_EXPIRED")
    assert await status(client, consent_id) == "expired"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_expires_once_sandbox_time_passes_valid_until(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, "member-1")
    assert (await client.get("/v1/accounts", headers=bg_headers(consent_id))).status_code == 200

    await client.post("/sandbox/clock", json={"advanceSeconds": 181 * 24 * 3600})

    later = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert (later.status_code, error_code(later)) == (401, "CONSENT_EXPIRED")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_unknown_consent_is_consent_unknown(client: httpx.AsyncClient) -> None:
    reads = await client.get("/v1/accounts", headers=bg_headers("no-such-consent"))
    status_read = await client.get("/v1/consents/nope/status", headers=bg_headers())

    assert (reads.status_code, error_code(reads)) == (403, "CONSENT_UNKNOWN")
    assert (status_read.status_code, error_code(status_read)) == (403, "CONSENT_UNKNOWN")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_missing_consent_id_header_is_a_format_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/accounts", headers=bg_headers())

    assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")
