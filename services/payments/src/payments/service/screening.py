"""The fraud gate: no payment reaches the bank without fraud's ``pass`` or an analyst's release.

Rules: fraud's decision arrives as ``TransactionScored`` (kind payment) or, when it has not
arrived ``fraud_wait`` after authorisation, is asked for over HTTP (fraud decides once per
payment, so both paths agree); whichever comes first applies and the other changes nothing.
``pass`` clears the payment, ``review`` holds it until ``PaymentHoldResolved``, ``block``
rejects it. While fraud is down the payment waits (asked again later), never goes ahead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from common.logging import get_logger

from payments.domain.payment import Actor, ActorKind, Payment, State
from payments.service.context import Context, for_each, persist_many
from payments.service.payments import forget_payee
from payments.service.ports import DecisionRequest, Store

log = get_logger(__name__)
DECISIONS = frozenset({"pass", "review", "block"})


@dataclass(frozen=True)
class FraudOutcome:
    """Fraud's word on one payment: its ``decision`` (pass, review, block), or, when
    ``released`` is set, an analyst's settlement of its hold (released or cancelled)."""

    payment_id: str
    decision: str | None = None
    released: bool | None = None
    analyst_id: str = "fraud"


async def apply_fraud_outcomes(
    store: Store, outcomes: Sequence[FraudOutcome], now: datetime
) -> int:
    """Apply fraud's decisions and analysts' settlements, in order, set-based: the payments
    are read and locked with one query and written back with one. Several outcomes for one
    payment apply one after another (a review, then its release, clears it); one that does not
    fit the payment's state changes nothing, so a repeated outcome is harmless. Returns how many
    payments changed."""
    found = await store.payments.get_many(sorted({o.payment_id for o in outcomes}))
    changed: dict[str, Payment] = {}
    for outcome in outcomes:
        payment = found.get(outcome.payment_id)
        if payment is not None and _apply(payment, outcome, now):
            changed[payment.payment_id] = payment
    await persist_many(store, list(changed.values()))
    return len(changed)


def _apply(payment: Payment, outcome: FraudOutcome, now: datetime) -> bool:
    if outcome.released is None:
        if payment.state is not State.SCREENING or outcome.decision not in DECISIONS:
            return False
        assert outcome.decision is not None
        payment.fraud_decided(outcome.decision, Actor(ActorKind.FRAUD, "fraud"), now)
    else:
        if payment.state is not State.HELD:
            return False
        actor = Actor(ActorKind.ANALYST, outcome.analyst_id)
        payment.hold_resolved(outcome.released, actor, now)
    payment.next_check_at = now
    return True


async def apply_decision(store: Store, payment_id: str, decision: str, now: datetime) -> bool:
    """Apply fraud's decision to a payment being screened; True when it changed the payment."""
    return bool(await apply_fraud_outcomes(store, [FraudOutcome(payment_id, decision)], now))


async def apply_hold_resolution(
    store: Store, payment_id: str, released: bool, analyst_id: str, now: datetime
) -> bool:
    outcome = FraudOutcome(payment_id, released=released, analyst_id=analyst_id)
    return bool(await apply_fraud_outcomes(store, [outcome], now))


async def ask_fraud(ctx: Context) -> int:
    """Ask fraud over HTTP for the decisions that have not arrived in time."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.payments.claim(State.SCREENING, now, ctx.policy.batch_size)
        for payment in due:
            payment.next_check_at = now + ctx.policy.fraud_wait
            await uow.payments.save(payment)
        await uow.commit()
    await for_each(ctx, due, lambda payment: _ask(ctx, payment))
    return len(due)


async def _ask(ctx: Context, payment: Payment) -> None:
    try:
        decision = await ctx.fraud.decide(_request(payment))
    except Exception as exc:
        log.warning("fraud_decision_unavailable", payment_id=payment.payment_id,
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip
        return
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        if decision == "released":
            changed = await apply_decision(uow, payment.payment_id, "review", now)
            changed = await apply_hold_resolution(uow, payment.payment_id, True, "fraud", now)
        else:
            changed = await apply_decision(uow, payment.payment_id, decision, now)
        await uow.commit()
    if changed:
        found = await _reload(ctx, payment.payment_id)
        if found is not None:
            await forget_payee(ctx, found)


async def _reload(ctx: Context, payment_id: str) -> Payment | None:
    async with ctx.uow() as uow:
        return await uow.payments.get(payment_id)


def _request(payment: Payment) -> DecisionRequest:
    return DecisionRequest(
        payment_id=payment.payment_id,
        owner_ref=payment.user_id,
        account_ref=payment.account_ref,
        amount=payment.money.text(),
        currency=payment.money.currency,
        payee_ref=payment.payee_ref,
        initiated_at=payment.created_at,
        device_id=payment.device_id,
    )
