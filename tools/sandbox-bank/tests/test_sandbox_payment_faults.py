"""Payment faults: a status stuck in ACTC, a lost answer, a refusal before any work."""

import httpx
import pytest
from sandbox_bank.testing import (
    PAYMENTS,
    connect,
    grant_payment_consent,
    payment_request,
    payment_status,
    pis_headers,
    read_all,
)

PSU = "member-1"


async def booked_to(client: httpx.AsyncClient, creditor: str) -> int:
    consent_id = await connect(client, PSU)
    account = (await client.get(f"/sandbox/psus/{PSU}/accounts")).json()["accounts"][0]
    items, _ = await read_all(client, consent_id, account["resourceId"])
    return sum(1 for t in items if t.get("creditorName") == creditor)


@pytest.mark.unit
@pytest.mark.asyncio
async def test_stuck_actc_fault_holds_payments_until_the_faults_are_cleared(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    await client.post("/sandbox/faults", json={"kind": "stuck-actc"})
    body = payment_request(iban, "12.00", creditor_name="Stuck Ltd")
    created = await client.post(PAYMENTS, json=body, headers=pis_headers(PSU, consent_id))
    payment_id = created.json()["paymentId"]

    held = [await payment_status(client, PSU, payment_id) for _ in range(3)]
    booked_while_held = await booked_to(client, "Stuck Ltd")
    await client.delete("/sandbox/faults")

    assert held == ["ACTC", "ACTC", "ACTC"]
    assert booked_while_held == 0
    assert await payment_status(client, PSU, payment_id) == "ACSC"
    assert await booked_to(client, "Stuck Ltd") == 1


@pytest.mark.unit
@pytest.mark.asyncio
async def test_lost_response_fault_pays_once_and_a_resubmission_returns_that_payment(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    await client.post("/sandbox/faults", json={"kind": "lost-response", "pathPrefix": PAYMENTS})
    body = payment_request(iban, "33.00", creditor_name="Lost Answer SA")
    headers = pis_headers(PSU, consent_id)

    lost = await client.post(PAYMENTS, json=body, headers=headers)
    again = await client.post(PAYMENTS, json=body, headers=headers)

    assert lost.status_code == 502
    assert again.status_code == 201
    assert await payment_status(client, PSU, again.json()["paymentId"]) == "ACSC"
    assert await booked_to(client, "Lost Answer SA") == 1


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize("kind", ["error500", "error503"])
async def test_5xx_fault_on_submission_does_no_work_and_a_resubmission_pays_once(
    client: httpx.AsyncClient, kind: str
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    await client.post("/sandbox/faults", json={"kind": kind, "pathPrefix": PAYMENTS})
    body = payment_request(iban, "8.00", creditor_name="Refused First")
    headers = pis_headers(PSU, consent_id)

    refused = await client.post(PAYMENTS, json=body, headers=headers)
    booked_after_refusal = await booked_to(client, "Refused First")
    accepted = await client.post(PAYMENTS, json=body, headers=headers)

    assert refused.status_code >= 500
    assert booked_after_refusal == 0
    assert await payment_status(client, PSU, accepted.json()["paymentId"]) == "ACSC"
    assert await booked_to(client, "Refused First") == 1


@pytest.mark.unit
@pytest.mark.asyncio
async def test_malformed_fault_on_a_status_read_leaves_the_payment_unchanged(
    client: httpx.AsyncClient,
) -> None:
    consent_id, iban = await grant_payment_consent(client, PSU)
    created = await client.post(
        PAYMENTS, json=payment_request(iban, "3.00"), headers=pis_headers(PSU, consent_id)
    )
    payment_id = created.json()["paymentId"]
    await client.post("/sandbox/faults", json={"kind": "malformed", "pathPrefix": PAYMENTS})

    garbled = await client.get(f"{PAYMENTS}/{payment_id}/status", headers=pis_headers(PSU))

    assert garbled.status_code == 200
    assert await payment_status(client, PSU, payment_id) == "ACSC"
