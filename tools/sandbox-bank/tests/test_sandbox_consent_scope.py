"""A consent shows and grants the scope asked: account and transaction access are not allPsd2."""

from typing import Any

import httpx
import pytest
from sandbox_bank.testing import (
    MEMBER_IP,
    bg_headers,
    consent_request,
    error_code,
    first_account,
)


async def granted(client: httpx.AsyncClient, access: dict[str, Any]) -> str:
    body = {**consent_request("2999-01-01"), "access": access}
    headers = {**bg_headers(), "PSU-ID": "member-1", "TPP-Redirect-URI": "https://tpp.test/cb"}
    created = await client.post("/v1/consents", json=body, headers=headers)
    consent_id: str = created.json()["consentId"]
    await client.post(f"/v1/consents/{consent_id}/authorise", headers=bg_headers())
    return consent_id


async def shown_access(client: httpx.AsyncClient, consent_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/consents/{consent_id}", headers=bg_headers())
    access: dict[str, Any] = response.json()["access"]
    return access


@pytest.mark.unit
@pytest.mark.asyncio
async def test_bank_offered_account_and_transaction_consent_is_not_shown_as_all_psd2(
    client: httpx.AsyncClient,
) -> None:
    accounts = (await client.get("/sandbox/psus/member-1/accounts")).json()["accounts"]
    ibans = sorted(a["iban"] for a in accounts)

    consent_id = await granted(client, {"accounts": [], "transactions": []})
    access = await shown_access(client, consent_id)

    assert "allPsd2" not in access
    assert sorted(ref["iban"] for ref in access["accounts"]) == ibans
    assert sorted(ref["iban"] for ref in access["transactions"]) == ibans
    assert "balances" not in access


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_waiting_for_sca_shows_the_empty_lists_it_asked_for(
    client: httpx.AsyncClient,
) -> None:
    body = {**consent_request("2999-01-01"), "access": {"accounts": [], "transactions": []}}
    headers = {**bg_headers(), "PSU-ID": "member-1", "TPP-Redirect-URI": "https://tpp.test/cb"}
    consent_id = (await client.post("/v1/consents", json=body, headers=headers)).json()["consentId"]

    assert await shown_access(client, consent_id) == {"accounts": [], "transactions": []}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_all_psd2_consent_is_shown_as_all_psd2(client: httpx.AsyncClient) -> None:
    consent_id = await granted(client, {"allPsd2": "allAccounts"})

    assert await shown_access(client, consent_id) == {"allPsd2": "allAccounts"}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_bank_offered_account_access_alone_does_not_reach_transactions(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await granted(client, {"accounts": []})
    account_id = await first_account(client, consent_id)

    read = await client.get(
        f"/v1/accounts/{account_id}/transactions",
        params={"bookingStatus": "booked", "dateFrom": "2000-01-01"},
        headers=bg_headers(consent_id, MEMBER_IP),
    )

    assert set(await shown_access(client, consent_id)) == {"accounts"}
    assert (read.status_code, error_code(read)) == (401, "CONSENT_INVALID")
