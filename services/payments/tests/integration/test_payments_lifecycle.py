"""Fraud's gate, bank faults, logout and erasure, with fraud's events on the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from coffre_testing.kafka import collect
from common.events import Envelope, decode_envelope
from common.events.auth import SessionRevoked
from common.events.erasure import ErasureCompleted, ErasureRequested
from common.events.fraud import PaymentHoldResolved, TransactionScored
from payments_it_conftest import Member, Stack, eventually
from payments_it_helpers import Events

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _scored(payment: dict[str, Any], decision: str) -> TransactionScored:
    return TransactionScored(
        score_id=str(uuid.uuid4()), kind="payment", activity_ref=payment["payment_id"],
        account_ref=payment["account_ref"], score=0.1, decision=decision,  # type: ignore[arg-type]
        reasons=(), model_version=0, scored_at=datetime.now(UTC),
    )  # fmt: skip


async def _authorised(member: Member, consent: dict[str, Any]) -> dict[str, Any]:
    created = (await member.create(consent)).json()
    assert (await member.authorise(created)).status_code == 200
    return created


async def _bank_payments(stack: Stack, member: Member) -> int:
    found = await stack.bank.get(f"/sandbox/psus/{member.psu_id}/accounts")
    count: int = found.json()["accounts"][0]["transactionCount"]
    return count


async def test_held_payment_waits_for_the_analyst_and_blocked_never_reaches_the_bank(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    held, blocked = await _authorised(member, consent), await _authorised(member, consent)
    async with Events(infra.bootstrap_servers) as events:
        await events.send(_scored(held, "review"), subject=member.user_id)
        await events.send(_scored(blocked, "block"), subject=member.user_id)
        assert (await member.wait_state(held["payment_id"], "held"))["decision"] == "review"
        refused = await member.wait_state(blocked["payment_id"], "rejected")
        assert refused["reason"] == "fraud-blocked"
        outcome = PaymentHoldResolved(
            payment_id=held["payment_id"], alert_id="a-1", outcome="released",
            analyst_id="analyst-7", resolved_at=datetime.now(UTC),
        )  # fmt: skip
        await events.send(outcome, subject=member.user_id)
    await member.wait_state(held["payment_id"], "executed")
    bank_ids = await stack.db.fetch(
        "SELECT bank_payment_id FROM payments WHERE user_id = $1 AND bank_payment_id IS NOT NULL",
        member.user_id,
    )
    assert len(bank_ids) == 1
    audit = await stack.client.get(
        f"/v1/payments/{held['payment_id']}/audit", headers=member.headers()
    )
    release = next(e for e in audit.json()["entries"] if e["state"] == "cleared")
    assert release["actor"] == {"kind": "analyst", "id": "analyst-7", "session_id": None,
                                "device_id": None}  # fmt: skip


async def test_a_lost_bank_answer_is_resolved_with_the_same_request_id_and_paid_once(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    before = await _bank_payments(stack, member)
    payment = await _authorised(member, consent)
    fault = {"kind": "lost-response", "count": 1, "pathPrefix": "/v1/payments"}
    assert (await stack.bank.post("/sandbox/faults", json=fault)).status_code < 300
    async with Events(infra.bootstrap_servers) as events:
        await events.send(_scored(payment, "pass"), subject=member.user_id)
    await member.wait_state(payment["payment_id"], "executed")
    audit = await stack.client.get(
        f"/v1/payments/{payment['payment_id']}/audit", headers=member.headers()
    )
    states = [e["state"] for e in audit.json()["entries"]]
    assert states.count("submitting") == 1
    assert states[-2:] == ["submitted", "executed"]
    await eventually(lambda: _bank_payments(stack, member), lambda n: n == before + 1)
    assert await _bank_payments(stack, member) == before + 1


async def test_a_bank_stuck_in_actc_keeps_the_payment_submitted_and_never_resubmits(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    payment = await _authorised(member, consent)
    await stack.bank.post("/sandbox/faults", json={"kind": "stuck-actc", "count": 1})
    async with Events(infra.bootstrap_servers) as events:
        await events.send(_scored(payment, "pass"), subject=member.user_id)
    stuck = await member.wait_state(payment["payment_id"], "submitted")
    await eventually(
        lambda: member.payment(payment["payment_id"]), lambda p: p["bank_status"] == "ACTC"
    )
    checks = await eventually(
        lambda: stack.db.fetchval(
            "SELECT checks FROM payments WHERE payment_id = $1", payment["payment_id"]
        ),
        lambda n: n >= 2,
    )
    assert checks >= 2
    assert stuck["state"] == "submitted"
    await stack.bank.delete("/sandbox/faults")
    await member.wait_state(payment["payment_id"], "executed")


async def test_fraud_decisions_fetched_together_apply_in_order_and_a_redelivery_changes_nothing(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    first, second = await _authorised(member, consent), await _authorised(member, consent)
    batch = [_scored(first, "review"), _scored(second, "pass"), _scored(first, "pass")]
    async with Events(infra.bootstrap_servers) as events:
        sent = await events.send_together(batch, subject=member.user_id)
        assert (await member.wait_state(first["payment_id"], "held"))["decision"] == "review"
        await member.wait_state(second["payment_id"], "cleared", "submitting", "submitted",
                                "executed")  # fmt: skip
        await events.resend(sent)  # the same envelopes again: a redelivery
        marker = _scored({"payment_id": "no-such-payment", "account_ref": "x"}, "pass")
        last = await events.send(marker, subject=member.user_id)  # same key: after them
    claimed = "SELECT count(*) FROM inbox WHERE event_id = $1"
    await eventually(lambda: stack.db.fetchval(claimed, last.event_id), lambda n: n == 1)
    trail = await stack.db.fetch(
        "SELECT payment_id, state FROM payment_audit WHERE payment_id = ANY($1::text[]) "
        "AND state IN ('held', 'cleared') ORDER BY entry_id",
        [first["payment_id"], second["payment_id"]],
    )
    assert [(r["payment_id"], r["state"]) for r in trail] == [
        (first["payment_id"], "held"), (second["payment_id"], "cleared"),
    ]  # fmt: skip
    assert (await member.payment(first["payment_id"]))["state"] == "held"
    ids = [Envelope.model_validate_json(value).event_id for _, value, _ in sent]
    inbox = await stack.db.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])", ids
    )
    assert inbox == 3


async def test_logout_cancels_unsent_payments_and_refuses_the_session(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    waiting = (await member.create(consent)).json()
    revoked = SessionRevoked(
        user_id=uuid.UUID(member.user_id), session_id=uuid.UUID(member.session_id), reason="logout"
    )
    async with Events(infra.bootstrap_servers) as events:
        await events.send(revoked, subject=member.user_id)
    cancelled = await eventually(
        lambda: stack.db.pool.fetchrow(
            "SELECT state, reason FROM payments WHERE payment_id = $1", waiting["payment_id"]
        ),
        lambda row: row["state"] == "cancelled",
    )
    assert cancelled["reason"] == "session-logout"
    refused = await member.create(consent)
    assert (refused.status_code, refused.json()["code"]) == (401, "payments.session-revoked")


async def test_erasure_revokes_the_consent_at_the_bank_and_keeps_pseudonymous_records(
    lean_stack: Stack, infra: Any
) -> None:
    stack, member = lean_stack, lean_stack.member()
    consent = await member.consent()
    payment = await _authorised(member, consent)
    request_id = str(uuid.uuid4())
    async with Events(infra.bootstrap_servers) as events:
        await events.send(_scored(payment, "pass"), subject=member.user_id)
        await member.wait_state(payment["payment_id"], "executed")
        erasure = ErasureRequested(
            user_id=member.user_id, requested_at=datetime.now(UTC), request_id=request_id
        )
        await events.send(erasure, subject=member.user_id)
    records = await collect(
        infra.bootstrap_servers, ErasureCompleted.topic(), count=1,
        where=lambda r: decode_envelope(r.value).payload.get("request_id") == request_id
        and decode_envelope(r.value).payload.get("service") == "payments",
    )  # fmt: skip
    proof = decode_envelope(records[0].value).payload["proof"]
    assert proof["consents_revoked_at_bank"] == 1
    assert proof["payments_pseudonymised"] == 1
    row = await stack.db.pool.fetchrow(
        "SELECT user_id, session_id FROM payments WHERE payment_id = $1", payment["payment_id"]
    )
    assert row["user_id"].startswith("ps_")
    assert row["session_id"] is None
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM payment_audit WHERE actor_id = $1", member.user_id
        )
        == 0
    )
    kept = await stack.db.pool.fetchrow(
        "SELECT status, vault_ref, bank_revoked FROM payment_consents WHERE consent_id = $1",
        consent["consent_id"],
    )
    assert (kept["status"], kept["vault_ref"], kept["bank_revoked"]) == ("erased", None, True)
