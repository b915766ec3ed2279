"""Accounts: identification only, never balances, and only those the consent reaches."""

from typing import Any

import httpx
import pytest
from sandbox_bank.testing import (
    MEMBER_IP,
    bg_headers,
    connect,
    consent_request,
    error_code,
    first_account,
)


async def psu_with_two_accounts(client: httpx.AsyncClient) -> tuple[str, list[dict[str, Any]]]:
    for n in range(50):
        listed = (await client.get(f"/sandbox/psus/member-{n}/accounts")).json()["accounts"]
        if len(listed) == 2:
            return f"member-{n}", listed
    raise AssertionError("no PSU with two accounts among the first 50")


def keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


@pytest.mark.unit
@pytest.mark.asyncio
async def test_accounts_carry_identification_and_never_a_balance(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, "member-1")

    response = await client.get("/v1/accounts", headers=bg_headers(consent_id))

    accounts = response.json()["accounts"]
    assert 1 <= len(accounts) <= 2
    for account in accounts:
        assert {"resourceId", "iban", "currency", "name", "cashAccountType"} <= set(account)
    assert not any("balance" in key.lower() for key in keys(response.json()))


@pytest.mark.unit
@pytest.mark.asyncio
async def test_with_balance_is_a_format_error(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")
    account_id = await first_account(client, consent_id)
    headers = bg_headers(consent_id, MEMBER_IP)

    listed = await client.get("/v1/accounts", params={"withBalance": "true"}, headers=headers)
    read = await client.get(
        f"/v1/accounts/{account_id}/transactions",
        params={"bookingStatus": "booked", "dateFrom": "2000-01-01", "withBalance": "true"},
        headers=headers,
    )

    for response in (listed, read):
        assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")
        assert "balances are not offered" in response.json()["tppMessages"][0]["text"]


@pytest.mark.unit
@pytest.mark.asyncio
async def test_balances_endpoint_is_not_offered(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")
    account_id = await first_account(client, consent_id)

    response = await client.get(
        f"/v1/accounts/{account_id}/balances", headers=bg_headers(consent_id)
    )

    assert (response.status_code, error_code(response)) == (405, "SERVICE_INVALID")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_account_of_another_psu_is_resource_unknown(client: httpx.AsyncClient) -> None:
    mine = await connect(client, "member-1")
    theirs = await first_account(client, await connect(client, "member-2"))

    details = await client.get(f"/v1/accounts/{theirs}", headers=bg_headers(mine))
    read = await client.get(
        f"/v1/accounts/{theirs}/transactions",
        params={"bookingStatus": "booked", "dateFrom": "2000-01-01"},
        headers=bg_headers(mine),
    )

    for response in (details, read):
        assert (response.status_code, error_code(response)) == (404, "RESOURCE_UNKNOWN")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_consent_on_listed_ibans_reaches_only_those_accounts(
    client: httpx.AsyncClient,
) -> None:
    psu_id, (first, second) = await psu_with_two_accounts(client)
    body = {**consent_request("2999-01-01"), "access": {"transactions": [{"iban": first["iban"]}]}}
    headers = {**bg_headers(), "PSU-ID": psu_id, "TPP-Redirect-URI": "https://tpp.test/cb"}
    consent_id = (await client.post("/v1/consents", json=body, headers=headers)).json()["consentId"]
    await client.post(f"/v1/consents/{consent_id}/authorise", headers=bg_headers())

    listed = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    other = await client.get(f"/v1/accounts/{second['resourceId']}", headers=bg_headers(consent_id))

    assert [a["resourceId"] for a in listed.json()["accounts"]] == [first["resourceId"]]
    assert error_code(other) == "RESOURCE_UNKNOWN"


@pytest.mark.unit
@pytest.mark.asyncio
async def test_foreign_iban_in_consent_request_is_a_format_error(
    client: httpx.AsyncClient,
) -> None:
    body = {
        **consent_request("2999-01-01"),
        "access": {"transactions": [{"iban": "FR7630006000011234567890189"}]},
    }
    headers = {**bg_headers(), "PSU-ID": "member-1", "TPP-Redirect-URI": "https://tpp.test/cb"}

    response = await client.post("/v1/consents", json=body, headers=headers)

    assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_unknown_path_is_resource_unknown(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/payments")

    assert (response.status_code, error_code(response)) == (404, "RESOURCE_UNKNOWN")
