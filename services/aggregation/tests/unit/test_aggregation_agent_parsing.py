"""The Berlin Group edge keeps only what aggregation may hold, and refuses what it cannot read."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from aggregation.adapters import berlin_group_parse as parse
from aggregation.adapters.berlin_group import BerlinGroupAgent, RetryPolicy
from aggregation.domain.errors import AgentRefused, AgentUnavailable, ConsentEnded
from aggregation.domain.transactions import TxStatus

pytestmark = pytest.mark.unit

BOOKED = {
    "transactionId": "t-1",
    "entryReference": "202603020000001",
    "endToEndId": "E2E123",
    "mandateId": "MNDT1",
    "bookingDate": "2026-03-02",
    "valueDate": "2026-03-01",
    "transactionAmount": {"currency": "EUR", "amount": "-42.10"},
    "creditorName": "Monoprix",
    "creditorAccount": {"iban": "FR7630006000011234567890189"},
    "remittanceInformationUnstructured": "CB MONOPRIX 01/03 PARIS",
    "bankTransactionCode": "PMNT-CCRD-POSD",
    "balanceAfterTransaction": {"balanceAmount": {"currency": "EUR", "amount": "1234.56"}},
}


def test_a_transaction_keeps_only_id_status_date_amount_currency_and_label() -> None:
    item = parse.transaction(BOOKED, TxStatus.BOOKED)
    assert vars(item) == {
        "bank_id": "t-1",
        "status": TxStatus.BOOKED,
        "booking_date": date(2026, 3, 2),
        "amount": parse.Decimal("-42.10"),
        "currency": "EUR",
        "label": "CB MONOPRIX 01/03 PARIS",
    }


def test_a_pending_transaction_is_dated_by_its_value_date() -> None:
    pending = {k: v for k, v in BOOKED.items() if k != "bookingDate"}
    assert parse.transaction(pending, TxStatus.PENDING).booking_date == date(2026, 3, 1)


def test_label_falls_back_to_the_counterparty_name() -> None:
    bare = {k: v for k, v in BOOKED.items() if k != "remittanceInformationUnstructured"}
    assert parse.transaction(bare, TxStatus.BOOKED).label == "Monoprix"


@pytest.mark.parametrize(
    "broken",
    [
        {"transactionId": ""},
        {"transactionAmount": {"currency": "EUR", "amount": "12,50"}},
        {"transactionAmount": {"currency": "euro", "amount": "1.00"}},
        {"transactionAmount": "12.50"},
        {"bookingDate": "yesterday"},
    ],
)
def test_malformed_transactions_are_refused(broken: dict[str, object]) -> None:
    with pytest.raises(AgentUnavailable):
        parse.transaction(BOOKED | broken, TxStatus.BOOKED)


def _agent(handler: object) -> BerlinGroupAgent:
    transport = httpx.MockTransport(handler)  # type: ignore[arg-type]
    client = httpx.AsyncClient(transport=transport, base_url="https://agent.test")

    async def no_sleep(_: float) -> None:
        return None

    return BerlinGroupAgent(client, RetryPolicy(attempts=3, base_delay=0), sleep=no_sleep)


@pytest.mark.asyncio
async def test_next_link_to_another_host_is_never_followed() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        body = {"transactions": {"booked": [], "_links": {"next": {"href": "https://evil.test/x"}}}}
        return httpx.Response(200, json=body)

    with pytest.raises(AgentUnavailable):
        await _agent(handler).transactions("c", "r", date(2026, 1, 1), "192.0.2.1")
    assert all(url.startswith("https://agent.test/") for url in seen)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("status", "code", "error"),
    [
        (401, "CONSENT_INVALID", ConsentEnded),
        (401, "CONSENT_EXPIRED", ConsentEnded),
        (403, "CONSENT_UNKNOWN", ConsentEnded),
        (400, "FORMAT_ERROR", AgentRefused),
        (404, "RESOURCE_UNKNOWN", AgentRefused),
    ],
)
async def test_bank_refusals_map_to_clear_errors(status: int, code: str, error: type) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(status, json={"tppMessages": [{"category": "ERROR", "code": code}]})

    with pytest.raises(error):
        await _agent(handler).accounts("c", "192.0.2.1")
    assert calls == 1


@pytest.mark.asyncio
async def test_consent_creation_is_not_repeated_after_a_timeout() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ReadTimeout("slow", request=request)

    agent = _agent(handler)
    with pytest.raises(AgentUnavailable):
        await agent.create_consent(
            psu_id="p", redirect_uri="https://a.test/cb", nok_redirect_uri="https://a.test/cb",
            valid_until=date(2026, 6, 1), frequency_per_day=4,
        )  # fmt: skip
    assert calls == 1


@pytest.mark.asyncio
async def test_consent_request_never_asks_for_balances() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        links = {"scaRedirect": {"href": "https://bank.test/sca/1"}}
        return httpx.Response(
            201, json={"consentId": "c1", "consentStatus": "received", "_links": links}
        )

    created = await _agent(handler).create_consent(
        psu_id="p", redirect_uri="https://a.test/cb", nok_redirect_uri="https://a.test/cb",
        valid_until=date(2026, 6, 1), frequency_per_day=4,
    )  # fmt: skip
    assert created.sca_redirect == "https://bank.test/sca/1"
    assert b"balances" not in bodies[0]
    assert b"allPsd2" not in bodies[0]
    assert "c1" not in repr(created)


@pytest.mark.asyncio
async def test_429_is_reported_with_the_banks_retry_after() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"Retry-After": "3600"}, json={})

    from aggregation.domain.errors import AgentRateLimited

    with pytest.raises(AgentRateLimited) as caught:
        await _agent(handler).transactions("c", "r", date(2026, 1, 1), None)
    assert caught.value.retry_after == 3600
