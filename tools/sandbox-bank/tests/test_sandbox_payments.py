"""SEPA credit transfers: lifecycle, rejection reasons, duplicates, booking, visibility."""

import asyncio
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.testing import (
    PAYMENTS,
    bg_headers,
    connect,
    error_code,
    grant_payment_consent,
    own_iban,
    payment_request,
    payment_status,
    pis_headers,
    read_all,
    sandbox_client,
)

PSU = "member-1"


async def submit(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    consent_id: str | None = None,
    psu_id: str = PSU,
    **headers: str,
) -> httpx.Response:
    return await client.post(
        PAYMENTS, json=body, headers={**pis_headers(psu_id, consent_id), **headers}
    )


async def status_body(client: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    response = await client.get(f"{PAYMENTS}/{payment_id}/status", headers=pis_headers(PSU))
    body: dict[str, Any] = response.json()
    return body


async def rejection(client: httpx.AsyncClient, response: httpx.Response) -> str:
    assert response.status_code == 201
    body = await status_body(client, response.json()["paymentId"])
    assert body["transactionStatus"] == "RJCT"
    code: str = body["tppMessages"][0]["code"]
    assert body["tppMessages"][0]["category"] == "ERROR"
    return code


async def paid_to(client: httpx.AsyncClient, creditor: str) -> list[dict[str, Any]]:
    consent_id = await connect(client, PSU)
    accounts = (await client.get(f"/sandbox/psus/{PSU}/accounts")).json()["accounts"]
    items, _ = await read_all(client, consent_id, accounts[0]["resourceId"])
    return [t for t in items if t.get("creditorName") == creditor]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_under_a_valid_consent_settles_by_the_first_status_read(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)

    created = await submit(client, payment_request(iban, "42.10"), consent_id)

    assert created.status_code == 201
    body = created.json()
    assert body["transactionStatus"] == "RCVD"
    assert "scaRedirect" not in body["_links"]
    assert body["_links"]["status"]["href"] == f"{PAYMENTS}/{body['paymentId']}/status"
    assert await payment_status(client, PSU, body["paymentId"]) == "ACSC"
    full = await client.get(f"{PAYMENTS}/{body['paymentId']}", headers=pis_headers(PSU))
    assert full.json()["instructedAmount"] == {"currency": "EUR", "amount": "42.10"}
    assert full.json()["transactionStatus"] == "ACSC"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_settled_payment_is_booked_on_the_debtor_account_and_listed_by_ais(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    body = payment_request(iban, "17.35", creditor_name="Atelier Rivoli", remittance="Facture 88")

    created = await submit(client, body, consent_id)
    booked = await paid_to(client, "Atelier Rivoli")

    assert created.status_code == 201
    assert len(booked) == 1
    assert booked[0]["transactionAmount"] == {"currency": "EUR", "amount": "-17.35"}
    assert booked[0]["remittanceInformationUnstructured"] == "Facture 88"
    assert booked[0]["bookingDate"]
    assert booked[0]["entryReference"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_same_request_id_and_body_returns_the_first_payment_and_pays_once(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    body = payment_request(iban, "25.00", creditor_name="Duplicate Test")
    headers = pis_headers(PSU, consent_id)

    first = await client.post(PAYMENTS, json=body, headers=headers)
    await payment_status(client, PSU, first.json()["paymentId"])
    again = await client.post(PAYMENTS, json=body, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert len(await paid_to(client, "Duplicate Test")) == 1


@pytest.mark.unit
@pytest.mark.asyncio
async def test_same_request_id_with_another_body_is_a_format_error(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    headers = pis_headers(PSU, consent_id)

    first = await client.post(PAYMENTS, json=payment_request(iban, "25.00"), headers=headers)
    other = await client.post(PAYMENTS, json=payment_request(iban, "26.00"), headers=headers)

    assert first.status_code == 201
    assert (other.status_code, error_code(other)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_above_the_per_payment_maximum_is_rejected_limit_exceeded(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU, max_per_payment="100.00")

    over = await submit(client, payment_request(iban, "100.01"), consent_id)

    assert await rejection(client, over) == "LIMIT_EXCEEDED"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payments_beyond_the_daily_limit_are_rejected_until_the_next_day(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(
        client, PSU, max_per_payment="100.00", period_limit="150.00", frequency="day"
    )
    first = await submit(client, payment_request(iban, "100.00"), consent_id)
    assert await payment_status(client, PSU, first.json()["paymentId"]) == "ACSC"

    second = await submit(client, payment_request(iban, "50.01"), consent_id)
    assert await rejection(client, second) == "LIMIT_EXCEEDED"
    await client.post("/sandbox/clock", json={"advanceSeconds": 24 * 3600})
    next_day = await submit(client, payment_request(iban, "50.01"), consent_id)

    assert await payment_status(client, PSU, next_day.json()["paymentId"]) == "ACSC"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_beyond_the_available_funds_is_rejected_insufficient_funds(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    account_id = (await client.get(f"/sandbox/psus/{PSU}/accounts")).json()["accounts"][0]
    funds = f"/sandbox/accounts/{account_id['resourceId']}/available-funds"
    await client.put(funds, json={"amount": "60.00"})

    first = await submit(client, payment_request(iban, "40.00"), consent_id)
    second = await submit(client, payment_request(iban, "40.00"), consent_id)

    assert await payment_status(client, PSU, first.json()["paymentId"]) == "ACSC"
    assert await rejection(client, second) == "INSUFFICIENT_FUNDS"
    assert (await client.get(funds)).json() == {"amount": "20.00"}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_creditor_iban_with_a_bad_checksum_is_rejected_creditor_iban_invalid(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    bad = "FR7630006000011234567890188"

    refused = await submit(client, payment_request(iban, "5.00", creditor_iban=bad), consent_id)

    assert await rejection(client, refused) == "CREDITOR_IBAN_INVALID"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_under_another_psus_consent_or_for_another_account_is_consent_invalid(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    other_consent, other_iban = await grant_payment_consent(client, "member-2")

    foreign = await submit(client, payment_request(other_iban, "5.00"), other_consent)
    wrong_account = await submit(client, payment_request(other_iban, "5.00"), consent_id)
    unknown = await submit(client, payment_request(iban, "5.00"), "x" * 43)

    assert await rejection(client, foreign) == "CONSENT_INVALID"
    assert await rejection(client, wrong_account) == "CONSENT_INVALID"
    assert await rejection(client, unknown) == "CONSENT_INVALID"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_is_only_visible_to_its_psu(client: httpx.AsyncClient) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    payment_id = (await submit(client, payment_request(iban, "5.00"), consent_id)).json()[
        "paymentId"
    ]

    seen = await client.get(f"{PAYMENTS}/{payment_id}/status", headers=pis_headers("member-2"))

    assert (seen.status_code, error_code(seen)) == (404, "RESOURCE_UNKNOWN")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_settle_delay_keeps_an_accepted_payment_actc_until_sandbox_time_passes() -> None:
    app = create_app(SandboxSettings(seed=7, payment_settle_delay_seconds=3600))
    async with sandbox_client(app) as client:
        consent_id, iban = await grant_payment_consent(client, PSU)
        payment_id = (await submit(client, payment_request(iban, "5.00"), consent_id)).json()[
            "paymentId"
        ]

        accepted = await payment_status(client, PSU, payment_id)
        await client.post("/sandbox/clock", json={"advanceSeconds": 3600})
        settled = await payment_status(client, PSU, payment_id)

    assert (accepted, settled) == ("ACTC", "ACSC")


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(("decision", "expected"), [("approve", "ACSC"), ("deny", "RJCT")])
async def test_payment_without_a_consent_waits_for_the_members_sca_at_the_bank(
    client: httpx.AsyncClient, decision: str, expected: str
) -> None:
    iban = await own_iban(client, PSU)
    callback = "https://tpp.test/pay/done?state=z"
    created = await submit(
        client, payment_request(iban, "9.99"), None, **{"TPP-Redirect-URI": callback}
    )
    body = created.json()

    waiting = await payment_status(client, PSU, body["paymentId"])
    back = await client.get(
        f"{urlsplit(body['_links']['scaRedirect']['href']).path}?decision={decision}"
    )

    assert (created.status_code, waiting) == (201, "RCVD")
    assert back.headers["location"] == callback
    assert await payment_status(client, PSU, body["paymentId"]) == expected


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "amount", ["0.00", "0", "-5.00", "10.001", "1e3", "NaN", 12.5, "99999999999999.00"]
)
async def test_bad_payment_amount_is_a_format_error(client: httpx.AsyncClient, amount: Any) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    body = payment_request(iban, "1.00")
    body["instructedAmount"]["amount"] = amount

    refused = await submit(client, body, consent_id)

    assert (refused.status_code, error_code(refused)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_payment_without_psu_id_or_without_consent_and_redirect_is_a_format_error(
    client: httpx.AsyncClient,
) -> None:
    iban = await own_iban(client, PSU)
    body = payment_request(iban, "1.00")

    no_psu = await client.post(PAYMENTS, json=body, headers=bg_headers())
    no_route = await submit(client, body)

    assert (no_psu.status_code, error_code(no_psu)) == (400, "FORMAT_ERROR")
    assert (no_route.status_code, error_code(no_route)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_amount_available_for_payments_is_never_served_to_ais(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, PSU)
    account = (await client.get(f"/sandbox/psus/{PSU}/accounts")).json()["accounts"][0]
    await client.put(
        f"/sandbox/accounts/{account['resourceId']}/available-funds", json={"amount": "4321.09"}
    )

    listed = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    detail = await client.get(
        f"/v1/accounts/{account['resourceId']}", headers=bg_headers(consent_id)
    )

    assert "4321" not in listed.text + detail.text
    assert not re.search(r"balance|available", listed.text + detail.text, re.IGNORECASE)


@pytest.mark.unit
@pytest.mark.asyncio
async def test_concurrent_duplicates_of_one_request_make_one_payment(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    body = payment_request(iban, "11.00", creditor_name="Concurrent Co")
    headers = pis_headers(PSU, consent_id)

    answers = await asyncio.gather(
        *(client.post(PAYMENTS, json=body, headers=headers) for _ in range(8))
    )

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["paymentId"] for a in answers}) == 1
    assert len(await paid_to(client, "Concurrent Co")) == 1
