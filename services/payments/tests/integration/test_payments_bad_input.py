"""Every bad input is a clear 4xx problem and creates nothing."""

from __future__ import annotations

import uuid

import pytest
from payments_it_conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _count(stack: Stack, user_id: str) -> int:
    found: int = await stack.db.fetchval(
        "SELECT count(*) FROM payments WHERE user_id = $1", user_id
    )
    return found


BAD_INPUT: list[tuple[dict[str, object], str]] = [
    ({"amount": "10.001"}, "payments.amount-invalid"),
    ({"amount": "-5"}, "payments.amount-invalid"),
    ({"amount": "0"}, "payments.amount-invalid"),
    ({"amount": "NaN"}, "payments.amount-invalid"),
    ({"amount": "1e9"}, "payments.amount-invalid"),
    ({"amount": "99999999999999999999"}, "payments.amount-invalid"),
    ({"currency": "XYZ"}, "payments.currency-unknown"),
    ({"currency": "USD"}, "payments.currency-not-supported"),
    ({"creditor": {"name": "X", "iban": "DE89370400440532013001"}}, "payments.iban-invalid"),
    ({"kind": "withdrawal"}, "payments.payee-not-allowed"),
    ({"kind": "refund"}, "payments.input-invalid"),
    ({"amount": "15000.00"}, "payments.limit-exceeded"),
    ({"remittance": "pay\u202eme"}, "payments.input-invalid"),
]


async def test_bad_input_is_a_clear_problem(lean_stack: Stack) -> None:
    stack = lean_stack
    member = stack.member()
    consent = await member.consent()
    for changes, code in BAD_INPUT:
        refused = await member.create(consent, **changes)
        assert refused.status_code == 422, (changes, refused.text)
        assert refused.json()["code"] == code, changes
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert await _count(stack, member.user_id) == 0


async def test_requests_without_key_scope_or_with_garbage_are_refused(lean_stack: Stack) -> None:
    stack = lean_stack
    member = stack.member()
    consent = await member.consent()
    creditor = {"name": "A", "iban": "DE89370400440532013000"}
    body = {"kind": "payment", "account_ref": consent["account_ref"], "amount": "1.00",
            "currency": "EUR", "creditor": creditor}  # fmt: skip
    no_key = await stack.client.post("/v1/payments", json=body, headers=member.headers())
    assert no_key.json()["code"] == "payments.idempotency-key-missing"
    token = stack.tokens.access(member.user_id, member.session_id, scope="member")
    weak = await stack.client.post(
        "/v1/payments", json=body,
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "k"},
    )  # fmt: skip
    assert weak.status_code == 403
    raw = await stack.client.post(
        "/v1/payments", content=b'{"amount": NaN',
        headers=member.headers(**{"Idempotency-Key": "k", "content-type": "application/json"}),
    )  # fmt: skip
    assert raw.status_code == 422
    unknown = await stack.client.get(f"/v1/payments/{uuid.uuid4()}", headers=member.headers())
    assert unknown.status_code == 404
