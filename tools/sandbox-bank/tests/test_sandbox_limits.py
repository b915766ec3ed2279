"""Access limits: unattended reads per account per 24 h; attended reads are free."""

import httpx
import pytest
from sandbox_bank.testing import MEMBER_IP, bg_headers, connect, error_code, first_account

BOOKED = {"bookingStatus": "booked", "dateFrom": "2000-01-01"}


async def unattended_read(
    client: httpx.AsyncClient, consent_id: str, account_id: str
) -> httpx.Response:
    return await client.get(
        f"/v1/accounts/{account_id}/transactions", params=BOOKED, headers=bg_headers(consent_id)
    )


@pytest.mark.unit
@pytest.mark.asyncio
async def test_unattended_reads_beyond_frequency_per_day_get_429_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, "member-1", frequency_per_day=2)
    account_id = await first_account(client, consent_id)

    allowed = [await unattended_read(client, consent_id, account_id) for _ in range(2)]
    refused = await unattended_read(client, consent_id, account_id)

    assert [r.status_code for r in allowed] == [200, 200]
    assert (refused.status_code, error_code(refused)) == (429, "ACCESS_EXCEEDED")
    assert 0 < int(refused.headers["Retry-After"]) <= 24 * 3600


@pytest.mark.unit
@pytest.mark.asyncio
async def test_member_present_reads_are_not_counted(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1", frequency_per_day=1)
    account_id = await first_account(client, consent_id)
    url = f"/v1/accounts/{account_id}/transactions"

    attended = [
        await client.get(url, params=BOOKED, headers=bg_headers(consent_id, MEMBER_IP))
        for _ in range(6)
    ]
    unattended = await unattended_read(client, consent_id, account_id)

    assert {r.status_code for r in attended} == {200}
    assert unattended.status_code == 200


@pytest.mark.unit
@pytest.mark.asyncio
async def test_following_next_links_counts_once(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1", frequency_per_day=1)
    account_id = await first_account(client, consent_id)
    await client.post("/sandbox/psus/member-1/generate", params={"count": 300})

    pages = 0
    response = await unattended_read(client, consent_id, account_id)
    while "next" in response.json()["transactions"]["_links"]:
        pages += 1
        href = response.json()["transactions"]["_links"]["next"]["href"]
        response = await client.get(href, headers=bg_headers(consent_id))
        assert response.status_code == 200
    usage = (await client.get(f"/sandbox/consents/{consent_id}/usage")).json()

    assert pages >= 3
    assert usage["unattended"] == {account_id: 1}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_limit_is_per_account_and_the_window_slides_after_24_hours(
    client: httpx.AsyncClient,
) -> None:
    consent_id = await connect(client, "member-1", frequency_per_day=1)
    account_id = await first_account(client, consent_id)
    assert (await unattended_read(client, consent_id, account_id)).status_code == 200
    listed = await client.get("/v1/accounts", headers=bg_headers(consent_id))
    assert listed.status_code == 200, "the account list has its own count"
    assert (await unattended_read(client, consent_id, account_id)).status_code == 429

    await client.post("/sandbox/clock", json={"advanceSeconds": 24 * 3600})

    assert (await unattended_read(client, consent_id, account_id)).status_code == 200


@pytest.mark.unit
@pytest.mark.asyncio
async def test_malformed_psu_ip_address_is_a_format_error(client: httpx.AsyncClient) -> None:
    consent_id = await connect(client, "member-1")

    response = await client.get("/v1/accounts", headers=bg_headers(consent_id, "not-an-ip"))

    assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")
