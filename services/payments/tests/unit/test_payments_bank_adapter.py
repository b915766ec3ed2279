"""The Berlin Group PIS adapter: what it sends and how it reads the bank's answers."""

from __future__ import annotations

import json

import httpx
import pytest
from payments.adapters.berlin_group_pis import BerlinGroupBank
from payments.domain.errors import BankConsentEnded, BankRefused, BankUnavailable
from payments.service.ports import PaymentOrder

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]
ORDER = PaymentOrder(
    request_id="6f1c2d0e-9a8b-4c3d-8e7f-5a4b3c2d1e0f", token="t" * 43, psu_id="psu-1",
    debtor_iban="FR1420041010050500013M02606", amount="12.50", currency="EUR",
    creditor_name="Camille", creditor_iban="DE89370400440532013000", remittance="",
)  # fmt: skip


def _bank(answer: httpx.Response, seen: list[httpx.Request]) -> BerlinGroupBank:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url="http://bank")
    return BerlinGroupBank(client, timeout=1, attempts=1)


async def test_a_submission_carries_the_payments_request_id_and_no_empty_remittance() -> None:
    seen: list[httpx.Request] = []
    bank = _bank(httpx.Response(201, json={"transactionStatus": "RCVD", "paymentId": "b-1"}), seen)
    status = await bank.submit(ORDER)
    assert (status.status, status.bank_payment_id) == ("RCVD", "b-1")
    assert seen[0].headers["X-Request-ID"] == ORDER.request_id
    assert seen[0].headers["Consent-ID"] == ORDER.token
    assert "remittanceInformationUnstructured" not in json.loads(seen[0].content)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (
            httpx.Response(401, json={"tppMessages": [{"code": "CONSENT_INVALID"}]}),
            BankConsentEnded,
        ),
        (httpx.Response(400, json={"tppMessages": [{"code": "FORMAT_ERROR"}]}), BankRefused),
        (httpx.Response(502, content=b"<html>"), BankUnavailable),
        (httpx.Response(201, content=b'{"transactionStatus": "RC'), BankUnavailable),
        (
            httpx.Response(201, json={"transactionStatus": "WHAT", "paymentId": "b"}),
            BankUnavailable,
        ),
    ],
)
async def test_bank_answers_map_to_refusal_or_unknown_outcome(
    answer: httpx.Response, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await _bank(answer, []).submit(ORDER)
