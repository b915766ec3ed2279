"""Payment consents (mandates): creation, SCA at the bank, terms, use, ending."""

import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sandbox_bank.testing import (
    PAYMENTS,
    error_code,
    grant_payment_consent,
    mandate_request,
    own_iban,
    payment_request,
    payment_status,
    pis_headers,
)

CALLBACK = "https://tpp.test/payments/callback?state=abc%2F9&x=1"
NOK = "https://tpp.test/payments/nok?state=abc"
CONSENTS = "/v1/payment-consents"


async def create(
    client: httpx.AsyncClient, body: dict[str, Any], psu_id: str = "member-1", **headers: str
) -> httpx.Response:
    all_headers = {
        **pis_headers(psu_id),
        "TPP-Redirect-URI": CALLBACK,
        "TPP-Nok-Redirect-URI": NOK,
        **headers,
    }
    return await client.post(CONSENTS, json=body, headers=all_headers)


async def consent_status(client: httpx.AsyncClient, consent_id: str, psu: str = "member-1") -> str:
    response = await client.get(f"{CONSENTS}/{consent_id}/status", headers=pis_headers(psu))
    value: str = response.json()["consentStatus"]
    return value


async def pay(client: httpx.AsyncClient, consent_id: str, iban: str, amount: str) -> str:
    headers = pis_headers("member-1", consent_id)
    response = await client.post(PAYMENTS, json=payment_request(iban, amount), headers=headers)
    assert response.status_code == 201
    payment_id: str = response.json()["paymentId"]
    return payment_id


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_consent_is_received_until_the_member_approves_at_the_bank(
    client: httpx.AsyncClient,
) -> None:
    iban = await own_iban(client, "member-1")
    created = await create(client, mandate_request(iban))
    body = created.json()
    consent_id = body["consentId"]

    assert created.status_code == 201
    assert body["consentStatus"] == "received"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", consent_id)
    assert body["_links"]["status"]["href"] == f"{CONSENTS}/{consent_id}/status"
    sca = body["_links"]["scaRedirect"]["href"]
    assert consent_id not in sca
    back = await client.get(urlsplit(sca).path)
    assert back.status_code == 302
    assert back.headers["location"] == CALLBACK
    assert await consent_status(client, consent_id) == "valid"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_denied_payment_consent_is_rejected_and_returns_to_the_nok_uri(
    client: httpx.AsyncClient,
) -> None:
    iban = await own_iban(client, "member-1")
    body = (await create(client, mandate_request(iban))).json()

    back = await client.get(urlsplit(body["_links"]["scaRedirect"]["href"]).path + "?decision=deny")

    assert back.status_code == 302
    assert back.headers["location"] == NOK
    assert await consent_status(client, body["consentId"]) == "rejected"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_consent_reports_its_terms_and_the_amount_used_this_period(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(
        client, "member-1", max_per_payment="80.00", period_limit="200.00", frequency="week"
    )
    payment_id = await pay(client, consent_id, iban, "30.50")
    assert await payment_status(client, "member-1", payment_id) == "ACSC"

    body = (await client.get(f"{CONSENTS}/{consent_id}", headers=pis_headers("member-1"))).json()

    assert body["debtorAccount"]["iban"] == iban
    assert body["maxAmountPerPayment"] == {"currency": "EUR", "amount": "80.00"}
    assert body["periodicLimit"] == {"currency": "EUR", "amount": "200.00", "frequency": "week"}
    assert body["consentStatus"] == "valid"
    assert body["usedInCurrentPeriod"] == {"currency": "EUR", "amount": "30.50"}
    assert body["currentPeriod"]["dateFrom"] <= body["currentPeriod"]["dateTo"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_deleted_payment_consent_is_terminated_and_rejects_later_payments(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, "member-1")

    deleted = await client.delete(f"{CONSENTS}/{consent_id}", headers=pis_headers("member-1"))
    payment_id = await pay(client, consent_id, iban, "10.00")

    assert deleted.status_code == 204
    assert await consent_status(client, consent_id) == "terminatedByTpp"
    status = await client.get(f"{PAYMENTS}/{payment_id}/status", headers=pis_headers("member-1"))
    assert status.json()["transactionStatus"] == "RJCT"
    assert status.json()["tppMessages"][0]["code"] == "CONSENT_INVALID"


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("control", "expected"), [("expire", "expired"), ("revoke", "revokedByPsu")]
)
async def test_expired_or_revoked_payment_consent_rejects_payments(
    client: httpx.AsyncClient, control: str, expected: str
) -> None:
    consent_id, iban = await grant_payment_consent(client, "member-1")

    ended = await client.post(f"/sandbox/payment-consents/{consent_id}/{control}")
    payment_id = await pay(client, consent_id, iban, "10.00")

    assert ended.json() == {"consentStatus": expected}
    assert await consent_status(client, consent_id) == expected
    assert await payment_status(client, "member-1", payment_id) == "RJCT"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_consent_expires_once_sandbox_time_passes_valid_until(
    client: httpx.AsyncClient,
) -> None:
    today = (await client.get("/sandbox/clock")).json()["now"][:10]
    consent_id, _ = await grant_payment_consent(client, "member-1", valid_until=today)

    await client.post("/sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})

    assert await consent_status(client, consent_id) == "expired"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_consent_is_only_visible_to_its_psu(client: httpx.AsyncClient) -> None:
    consent_id, _ = await grant_payment_consent(client, "member-1")

    read = await client.get(f"{CONSENTS}/{consent_id}", headers=pis_headers("member-2"))
    deleted = await client.delete(f"{CONSENTS}/{consent_id}", headers=pis_headers("member-2"))

    assert (read.status_code, error_code(read)) == (403, "CONSENT_UNKNOWN")
    assert (deleted.status_code, error_code(deleted)) == (403, "CONSENT_UNKNOWN")
    assert await consent_status(client, consent_id) == "valid"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_consent_on_another_psus_account_is_a_format_error(
    client: httpx.AsyncClient,
) -> None:
    other_iban = await own_iban(client, "member-2")

    refused = await create(client, mandate_request(other_iban))

    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "change",
    [
        {"maxAmountPerPayment": {"currency": "EUR", "amount": "10.001"}},
        {"maxAmountPerPayment": {"currency": "EUR", "amount": "0.00"}},
        {"maxAmountPerPayment": {"currency": "EUR", "amount": 10}},
        {"maxAmountPerPayment": {"currency": "USD", "amount": "10.00"}},
        {"periodicLimit": {"currency": "EUR", "amount": "10.00", "frequency": "year"}},
        {"validUntil": "2001-01-01"},
        {"validUntil": "not-a-date"},
        {"unknownField": True},
    ],
)
async def test_malformed_payment_consent_request_is_a_format_error(
    client: httpx.AsyncClient, change: dict[str, Any]
) -> None:
    iban = await own_iban(client, "member-1")

    refused = await create(client, {**mandate_request(iban), **change})

    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize("missing", ["PSU-ID", "TPP-Redirect-URI", "X-Request-ID"])
async def test_payment_consent_without_a_required_header_is_a_format_error(
    client: httpx.AsyncClient, missing: str
) -> None:
    iban = await own_iban(client, "member-1")
    headers = {**pis_headers("member-1"), "TPP-Redirect-URI": CALLBACK}
    del headers[missing]

    refused = await client.post(CONSENTS, json=mandate_request(iban), headers=headers)

    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")
