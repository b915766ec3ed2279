"""Transactions: pagination, filters, pending to booked, extra fields, bad parameters."""

from datetime import date

import httpx
import pytest
from sandbox_bank.testing import MEMBER_IP, bg_headers, connect, error_code, first_account, read_all


async def connected(client: httpx.AsyncClient) -> tuple[str, str]:
    consent_id = await connect(client, "member-1")
    return consent_id, await first_account(client, consent_id)


async def count_of(client: httpx.AsyncClient, account_id: str) -> int:
    listed = (await client.get("/sandbox/psus/member-1/accounts")).json()["accounts"]
    count: int = next(a for a in listed if a["resourceId"] == account_id)["transactionCount"]
    return count


@pytest.mark.unit
@pytest.mark.asyncio
async def test_pagination_covers_every_transaction_exactly_once(
    client: httpx.AsyncClient,
) -> None:
    consent_id, account_id = await connected(client)
    await client.post("/sandbox/psus/member-1/generate", params={"count": 450})

    items, pages = await read_all(client, consent_id, account_id)

    ids = [tx["transactionId"] for tx in items]
    assert len(ids) == len(set(ids)) == await count_of(client, account_id)
    assert pages == -(-len(ids) // 100)


@pytest.mark.unit
@pytest.mark.asyncio
async def test_page_token_is_bound_to_its_query(client: httpx.AsyncClient) -> None:
    consent_id, account_id = await connected(client)
    url = f"/v1/accounts/{account_id}/transactions"
    first = await client.get(
        url,
        params={"bookingStatus": "both", "dateFrom": "2000-01-01"},
        headers=bg_headers(consent_id),
    )
    token = first.json()["transactions"]["_links"]["next"]["href"].rsplit("page=", 1)[1]

    for page, status in ((token, "booked"), ("MTAwLmZvcmdlZA", "both"), ("%%%", "both")):
        params = {"bookingStatus": status, "dateFrom": "2000-01-01", "page": page}
        response = await client.get(url, params=params, headers=bg_headers(consent_id))
        assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_booking_status_and_dates_filter_the_report(client: httpx.AsyncClient) -> None:
    consent_id, account_id = await connected(client)
    all_items, _ = await read_all(client, consent_id, account_id)
    pending_days = sorted(tx["valueDate"] for tx in all_items if "bookingDate" not in tx)
    window = {"dateFrom": "2000-01-01", "dateTo": "2999-01-01"}

    booked, _ = await read_all(client, consent_id, account_id, bookingStatus="booked", **window)
    pending, _ = await read_all(client, consent_id, account_id, bookingStatus="pending", **window)
    day = booked[len(booked) // 2]["bookingDate"]
    one_day, _ = await read_all(client, consent_id, account_id, dateFrom=day, dateTo=day)

    assert pending_days, "generated history has pending card payments"
    assert len(booked) + len(pending) == len(all_items)
    assert all("bookingDate" in tx and "entryReference" in tx for tx in booked)
    assert all("bookingDate" not in tx for tx in pending)
    assert {tx.get("bookingDate", tx["valueDate"]) for tx in one_day} == {day}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_pending_transaction_keeps_its_id_when_it_books(client: httpx.AsyncClient) -> None:
    consent_id, account_id = await connected(client)
    appended = await client.post(
        f"/sandbox/accounts/{account_id}/transactions",
        json={"amount": "-4.20", "counterpartyName": "Cafe Kitsune", "bookingStatus": "pending"},
    )
    tx_id = appended.json()["transactionId"]
    before, _ = await read_all(client, consent_id, account_id, bookingStatus="pending")

    booked_now = await client.post(
        f"/sandbox/accounts/{account_id}/book-pending", params={"transactionId": tx_id}
    )
    after, _ = await read_all(client, consent_id, account_id)

    assert tx_id in {tx["transactionId"] for tx in before}
    assert booked_now.json() == {"booked": [tx_id]}
    matching = [tx for tx in after if tx["transactionId"] == tx_id]
    assert len(matching) == 1
    assert "bookingDate" in matching[0]
    assert matching[0]["transactionAmount"] == {"currency": "EUR", "amount": "-4.20"}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_pending_transactions_book_after_the_delay_in_sandbox_time(
    client: httpx.AsyncClient,
) -> None:
    consent_id, account_id = await connected(client)
    pending, _ = await read_all(client, consent_id, account_id, bookingStatus="pending")
    pending_ids = {tx["transactionId"] for tx in pending}

    await client.post("/sandbox/clock", json={"advanceSeconds": 2 * 24 * 3600})
    still_pending, _ = await read_all(client, consent_id, account_id, bookingStatus="pending")
    booked, _ = await read_all(client, consent_id, account_id, bookingStatus="booked")

    assert pending_ids
    assert still_pending == []
    assert pending_ids <= {tx["transactionId"] for tx in booked}


@pytest.mark.unit
@pytest.mark.asyncio
async def test_transactions_carry_extras_a_minimising_client_must_drop(
    client: httpx.AsyncClient,
) -> None:
    consent_id, account_id = await connected(client)
    credit = await client.post(
        f"/sandbox/accounts/{account_id}/transactions",
        json={"amount": "1500", "counterpartyName": "ACME SAS", "counterpartyIban": "FR1420041"},
    )
    items, _ = await read_all(client, consent_id, account_id, bookingStatus="booked")
    debit = next(tx for tx in items if tx["transactionAmount"]["amount"].startswith("-"))

    assert {"creditorName", "creditorAccount", "balanceAfterTransaction"} <= set(debit)
    assert {"bankTransactionCode", "entryReference", "valueDate"} <= set(debit)
    assert credit.json()["debtorName"] == "ACME SAS"
    assert credit.json()["transactionAmount"]["amount"] == "1500.00"
    assert "creditorName" not in credit.json()


@pytest.mark.unit
@pytest.mark.asyncio
async def test_appending_a_duplicate_transaction_id_is_refused(client: httpx.AsyncClient) -> None:
    _, account_id = await connected(client)
    body = {"amount": "-1.00", "counterpartyName": "X", "transactionId": "dup-1"}

    first = await client.post(f"/sandbox/accounts/{account_id}/transactions", json=body)
    second = await client.post(f"/sandbox/accounts/{account_id}/transactions", json=body)

    assert first.status_code == 201
    assert (second.status_code, error_code(second)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "params",
    [
        {"dateFrom": "2000-01-01"},
        {"bookingStatus": "booked"},
        {"bookingStatus": "all", "dateFrom": "2000-01-01"},
        {"bookingStatus": "booked", "dateFrom": "01/02/2024"},
        {"bookingStatus": "booked", "dateFrom": "2024-02-02", "dateTo": "2024-02-01"},
        {"bookingStatus": "booked", "dateFrom": "2000-01-01", "page": "7"},
    ],
)
async def test_missing_or_invalid_parameters_are_format_errors(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    consent_id, account_id = await connected(client)

    response = await client.get(
        f"/v1/accounts/{account_id}/transactions",
        params=params,
        headers=bg_headers(consent_id, MEMBER_IP),
    )

    assert (response.status_code, error_code(response)) == (400, "FORMAT_ERROR")


@pytest.mark.unit
@pytest.mark.asyncio
async def test_history_spreads_over_ninety_days(client: httpx.AsyncClient) -> None:
    consent_id, account_id = await connected(client)

    items, _ = await read_all(client, consent_id, account_id)

    days = sorted(date.fromisoformat(tx["valueDate"]) for tx in items)
    assert 85 <= (days[-1] - days[0]).days <= 90
    labels = " ".join(tx["remittanceInformationUnstructured"] for tx in items)
    assert "SALAIRE" in labels
    assert "LOYER" in labels
    assert "PRLV SEPA" in labels
