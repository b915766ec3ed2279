"""Use cases on in-memory adapters: idempotency, step-up, the fraud gate, the bank, logout."""

from __future__ import annotations

from decimal import Decimal

import pytest
from common.security.stepup import StepUpMismatch
from payments.domain.errors import (
    IdempotencyInProgress,
    IdempotencyKeyReused,
    LimitExceeded,
    PaymentStateConflict,
)
from payments.service.create import Requester
from payments.service.payments import authorise_payment
from payments.service.screening import FraudOutcome, apply_fraud_outcomes
from payments.service.sessions import RevokedSession, session_revoked, sessions_revoked
from payments.service.worker import run_once
from payments_unit_helpers import CREDITOR, Harness

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_same_key_same_body_replays_and_another_body_is_refused() -> None:
    h = Harness()
    consent = await h.consent()
    first = await h.create(consent)
    again = await h.create(consent)
    assert (first.status, again.status, again.replayed) == (201, 201, True)
    assert again.body == first.body
    assert again.body["operation"]["payee"] == CREDITOR
    with pytest.raises(IdempotencyKeyReused):
        await h.create(consent, amount="26.00")
    assert len(h.state.payments) == 1
    stored = h.state.keys[(h.who.user_id, "k1")].response_body
    assert CREDITOR not in str(stored)


async def test_a_key_still_running_is_a_conflict_and_is_taken_over_after_its_lock() -> None:
    h = Harness()
    consent = await h.consent()
    await h.vault.put_payee("x", "y", CREDITOR)
    first = await h.create(consent, key="k9")
    record = h.state.keys[(h.who.user_id, "k9")]
    h.state.keys[(h.who.user_id, "k9")] = type(record)(
        record.user_id, record.key, record.fingerprint, "p-crashed", record.created_at,
        h.clock.now() + h.ctx.policy.idempotency_lock, None, None,
    )  # fmt: skip
    with pytest.raises(IdempotencyInProgress):
        await h.create(consent, key="k9")
    h.clock.advance(seconds=31)
    resumed = await h.create(consent, key="k9")
    assert resumed.body["payment_id"] == "p-crashed"
    assert first.body["payment_id"] != "p-crashed"


async def test_daily_limit_counts_the_members_payments() -> None:
    h = Harness(max_per_day=Decimal("60"))
    consent = await h.consent()
    await h.create(consent, key="a")
    await h.create(consent, key="b")
    refused = await h.create(consent, key="c")
    assert (refused.status, refused.body["error"]["code"]) == (422, "payments.limit-exceeded")
    with pytest.raises(LimitExceeded):
        await h.create(consent, key="d", amount="20000.00")


async def test_step_up_must_match_the_operation_and_is_used_once() -> None:
    h = Harness()
    consent = await h.consent()
    created = (await h.create(consent)).body
    op = created["operation"]
    with pytest.raises(StepUpMismatch):
        await authorise_payment(h.ctx, h.who, created["payment_id"], h.stepup(op | {"payee": "X"}))
    token = h.stepup(op)
    done = await authorise_payment(h.ctx, h.who, created["payment_id"], token)
    assert done.state.value == "screening"
    second = (await h.create(consent, key="k2")).body
    with pytest.raises(StepUpMismatch):
        await authorise_payment(h.ctx, h.who, second["payment_id"], token)
    with pytest.raises(PaymentStateConflict):
        await authorise_payment(h.ctx, h.who, created["payment_id"], h.stepup(op))


async def _authorised(h: Harness, key: str = "k1") -> str:
    consent = await h.consent() if not h.state.consents else {
        "account_ref": next(iter(h.state.consents.values())).account_ref
    }  # fmt: skip
    created = (await h.create(consent, key=key)).body
    await authorise_payment(h.ctx, h.who, created["payment_id"], h.stepup(created["operation"]))
    return str(created["payment_id"])


async def test_without_fraud_nothing_reaches_the_bank_and_fraud_is_asked_after_the_wait() -> None:
    h = Harness()
    payment_id = await _authorised(h)
    h.fraud.down = True
    await run_once(h.ctx)
    assert h.fraud.asked == []
    h.clock.advance(seconds=6)
    await run_once(h.ctx)
    assert len(h.fraud.asked) == 1
    assert h.state.payments[payment_id].state.value == "screening"
    assert h.bank.payments == {}
    h.fraud.down = False
    h.clock.advance(seconds=6)
    await run_once(h.ctx)
    await run_once(h.ctx)
    assert h.state.payments[payment_id].state.value == "submitted"
    assert len(h.bank.payments) == 1


async def test_a_lost_bank_answer_is_resolved_with_the_same_request_id() -> None:
    h = Harness()
    payment_id = await _authorised(h)
    h.bank.lose_next_answers = 1
    h.clock.advance(seconds=6)
    await run_once(h.ctx)
    assert h.state.payments[payment_id].state.value == "submitting"
    h.clock.advance(seconds=31)
    await run_once(h.ctx)
    assert h.state.payments[payment_id].state.value == "submitted"
    assert len(h.bank.payments) == 1
    h.bank.statuses["bank-1"] = "ACSC"
    h.clock.advance(seconds=5)
    await run_once(h.ctx)
    assert h.state.payments[payment_id].state.value == "executed"
    assert h.vault.payees == {}


async def test_a_payment_stuck_in_actc_is_polled_never_resubmitted() -> None:
    h = Harness()
    payment_id = await _authorised(h)
    h.clock.advance(seconds=6)
    await run_once(h.ctx)
    for _ in range(4):
        h.bank.statuses["bank-1"] = "ACTC"
        h.clock.advance(seconds=700)
        await run_once(h.ctx)
    payment = h.state.payments[payment_id]
    assert (payment.state.value, payment.bank_status, len(h.bank.payments)) == (
        "submitted", "ACTC", 1,
    )  # fmt: skip


async def test_revoked_session_cancels_what_has_not_reached_the_bank() -> None:
    h = Harness()
    payment_id = await _authorised(h)
    waiting = (await h.create({"account_ref": h.state.payments[payment_id].account_ref},
                              key="k2")).body["payment_id"]  # fmt: skip
    async with h.ctx.uow() as uow:
        assert await session_revoked(uow, "session-1", h.who.user_id, "logout", h.clock.now()) == 2
        await uow.commit()
    assert {h.state.payments[p].state.value for p in (payment_id, waiting)} == {"cancelled"}
    assert "session-1" in h.state.sessions


def _trail(h: Harness, payment_id: str) -> list[str]:
    return [e.state.value for e in h.state.audit if e.payment_id == payment_id]


async def test_a_batch_applies_several_outcomes_for_one_payment_in_order_and_once() -> None:
    h = Harness()
    held, passed = await _authorised(h, "k1"), await _authorised(h, "k2")
    batch = [
        FraudOutcome(held, "review"),
        FraudOutcome(passed, "pass"),
        FraudOutcome(held, released=True, analyst_id="analyst-7"),
        FraudOutcome(passed, "block"),  # too late: the payment is no longer being screened
    ]
    async with h.ctx.uow() as uow:
        assert await apply_fraud_outcomes(uow, batch, h.clock.now()) == 2
        await uow.commit()
    assert _trail(h, held)[-3:] == ["screening", "held", "cleared"]
    assert _trail(h, passed)[-2:] == ["screening", "cleared"]
    published = [(getattr(e, "payment_id", None), type(e).__name__) for e, _, _ in h.state.events]
    assert [name for payment, name in published if payment == held][-3:] == [
        "PaymentInitiated", "PaymentHeld", "PaymentCleared",
    ]  # fmt: skip
    assert [name for payment, name in published if payment == passed][-2:] == [
        "PaymentInitiated", "PaymentCleared",
    ]  # fmt: skip
    trails, events = len(h.state.audit), len(h.state.events)
    async with h.ctx.uow() as uow:  # the same outcomes again (fraud or Kafka repeating them)
        assert await apply_fraud_outcomes(uow, batch, h.clock.now()) == 0
        await uow.commit()
    assert (len(h.state.audit), len(h.state.events)) == (trails, events)


async def test_payment_initiated_is_keyed_by_account_and_the_lifecycle_by_payment() -> None:
    """Fraud owns accounts by partition: an account's payments must share its key."""
    h = Harness()
    payment_id = await _authorised(h)
    await run_once(h.ctx)
    account = h.state.payments[payment_id].account_ref
    keys = {type(e).__name__: key for e, _, key in h.state.events}
    assert keys["PaymentInitiated"] == account != payment_id
    assert keys["PaymentCreated"] == keys["PaymentAuthorised"] == payment_id


async def test_a_release_before_its_review_in_a_batch_does_not_clear_the_payment() -> None:
    h = Harness()
    payment_id = await _authorised(h)
    batch = [FraudOutcome(payment_id, released=True), FraudOutcome(payment_id, "review")]
    async with h.ctx.uow() as uow:
        assert await apply_fraud_outcomes(uow, batch, h.clock.now()) == 1
        await uow.commit()
    assert h.state.payments[payment_id].state.value == "held"


async def test_revoking_several_sessions_at_once_cancels_each_sessions_payments() -> None:
    h = Harness()
    first = await _authorised(h)
    h.who = Requester(h.who.user_id, "session-2", "device-2")
    second = await _authorised(h, "k2")
    revoked = [
        RevokedSession("session-1", h.who.user_id, "logout"),
        RevokedSession("session-2", h.who.user_id, "revoke-all"),
        RevokedSession("session-1", h.who.user_id, "revoke-all"),
    ]
    async with h.ctx.uow() as uow:
        assert await sessions_revoked(uow, revoked, h.clock.now()) == 2
        await uow.commit()
    reasons = {p: h.state.payments[p].reason for p in (first, second)}
    assert reasons == {first: "session-logout", second: "session-revoke-all"}
    assert {"session-1", "session-2"} <= set(h.state.sessions)
