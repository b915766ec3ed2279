"""The money path against the real broker, Postgres, vault, fraud and the sandbox bank."""

from __future__ import annotations

import pytest
from coffre_testing.kafka import collect
from common.events import decode_envelope
from common.events.payments import PaymentExecuted
from payments_it_conftest import Stack
from payments_it_helpers import CREDITOR
from sandbox_bank.testing import payment_status

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_consented_authorised_payment_is_executed_once_at_the_bank(
    stack: Stack, infra: object
) -> None:
    member = await stack.registered(infra.bootstrap_servers)  # type: ignore[attr-defined]
    consent = await member.consent()
    assert consent["status"] == "active"
    created = await member.create(consent)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["state"] == "awaiting_authorisation"
    assert body["operation"] == {
        "kind": "payment", "amount": "25.00", "currency": "EUR", "payee": CREDITOR,
        "operation_id": body["payment_id"],
    }  # fmt: skip
    authorised = await member.authorise(body)
    assert authorised.status_code == 200, authorised.text
    assert authorised.json()["state"] == "screening"
    done = await member.wait_state(body["payment_id"], "executed", "rejected", "held")
    assert done["state"] == "executed", done
    bank_id = await stack.db.fetchval(
        "SELECT bank_payment_id FROM payments WHERE payment_id = $1", body["payment_id"]
    )
    assert await payment_status(stack.bank, member.psu_id, bank_id) == "ACSC"
    audit = await stack.client.get(
        f"/v1/payments/{body['payment_id']}/audit", headers=member.headers()
    )
    steps = [(e["state"], e["actor"]["kind"]) for e in audit.json()["entries"]]
    assert steps == [
        ("awaiting_authorisation", "member"), ("authorised", "member"), ("screening", "system"),
        ("cleared", "fraud"), ("submitting", "system"), ("submitted", "bank"),
        ("executed", "bank"),
    ]  # fmt: skip
    authorised_entry = audit.json()["entries"][1]
    assert authorised_entry["actor"]["session_id"] == member.session_id
    assert authorised_entry["authorisation_id"]
    records = await collect(
        infra.bootstrap_servers,  # type: ignore[attr-defined]
        PaymentExecuted.topic(),
        count=1,
        where=lambda rec: decode_envelope(rec.value).payload["payment_id"] == body["payment_id"],
    )
    assert CREDITOR not in records[0].value.decode()
