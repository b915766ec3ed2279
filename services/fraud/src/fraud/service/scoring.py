"""Use cases that score activity: bank transactions, and payments before they execute.

Rules: scoring locks the account first, so one account's activities are scored one at a time;
scoring is idempotent per activity (a transaction or payment scored twice keeps its first score
and does not feed the account's history twice); the account must be known and owned by the
event's subject: an account seen for the first time is taken as its subject's when the subject
is a registered member (or when configured to accept any subject); a transaction whose subject
is not a member *yet* is parked (``fraud.service.parking``), never rejected for that ordering
race; a transaction of an erased member is dropped; the score, the new state, the alert and their
events are committed together; a payment gets exactly one decision, and asking again with other
details is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import (
    DecisionMismatch,
    DecisionNotFound,
    OwnerMismatch,
    UnknownAccount,
)
from fraud.domain.features import extract
from fraud.domain.records import Alert, PaymentDecision, ScoreRecord
from fraud.domain.scoring import Decision, score
from fraud.domain.state import AccountState
from fraud.service import events
from fraud.service.engine import Engine
from fraud.service.ports import ScoringContext, ScoringOutcome, UnitOfWork


@dataclass(frozen=True, slots=True)
class DecidedPayment:
    decision: PaymentDecision
    score: ScoreRecord


async def score_transaction(
    activity: Activity, uow: UnitOfWork, engine: Engine
) -> ScoreRecord | None:
    """Score a booked bank transaction (once); None when it is parked until its owner is known."""
    async with uow:
        record = await score_in(activity, uow, engine, park=True)
        await uow.commit()
    return record


async def score_in(
    activity: Activity,
    uow: UnitOfWork,
    engine: Engine,
    *,
    park: bool = False,
    unknown_owner: bool = False,
) -> ScoreRecord | None:
    """Score a transaction inside an open unit of work (None: dropped or parked). ``park``: park
    it when its subject is not a member yet; ``unknown_owner``: score it linked to no one,
    registering no account. A transaction of an erased member is dropped, never stored."""
    context = await uow.scoring.load(activity)
    if context.score is not None:
        return context.score
    if context.erased:
        return None
    if park and _awaits_registration(activity, context, engine):
        now = engine.clock()
        await uow.parked.park(activity, now, now + engine.park_timeout)
        return None
    if unknown_owner and context.owner is None:
        activity = replace(activity, owner_ref=None)
    record, _ = await _score_and_record(activity, context, uow, engine, unknown_owner)
    return record


def _awaits_registration(activity: Activity, context: ScoringContext, engine: Engine) -> bool:
    return (
        context.owner is None
        and activity.owner_ref is not None
        and not context.member
        and not engine.auto_register_accounts
    )


async def decide_payment(activity: Activity, uow: UnitOfWork, engine: Engine) -> DecidedPayment:
    """Score a payment and decide whether it may execute (once per payment)."""
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        raise ValueError("decide_payment needs a payment")
    async with uow:
        context = await uow.scoring.load(activity)
        if context.decision is not None and context.score is not None:
            _check_same(context.decision, activity)
            return DecidedPayment(context.decision, context.score)
        record, decision = await _score_and_record(activity, context, uow, engine)
        await uow.commit()
    assert decision is not None
    return DecidedPayment(decision, record)


async def payment_decision(payment_id: str, uow: UnitOfWork) -> DecidedPayment:
    """The decision made for a payment, with its score."""
    async with uow:
        decision = await uow.decisions.get(payment_id)
        record = await uow.scores.get(decision.score_id) if decision else None
    if decision is None or record is None:
        raise DecisionNotFound("no decision for this payment")
    return DecidedPayment(decision, record)


def _check_same(existing: PaymentDecision, activity: Activity) -> None:
    payee = activity.payee_ref or ""
    if not existing.same_request(-activity.amount, activity.currency, payee, activity.account_ref):
        raise DecisionMismatch("payment id already decided with other details")


async def _score_and_record(
    activity: Activity,
    context: ScoringContext,
    uow: UnitOfWork,
    engine: Engine,
    unknown_owner: bool = False,
) -> tuple[ScoreRecord, PaymentDecision | None]:
    owner, register = _owner(activity, context, engine, unknown_owner)
    account = context.account or AccountState(activity.account_ref)
    features = extract(account, context.security, activity)
    result = score(features, engine.policy, engine.models.current, is_outflow=activity.is_outflow)
    record = ScoreRecord(
        score_id=engine.new_id(),
        kind=activity.kind,
        activity_ref=activity.ref,
        account_ref=activity.account_ref,
        owner_ref=owner,
        value=result.value,
        decision=result.decision,
        reasons=result.reasons,
        features=features,
        model_version=result.model_version,
        scored_at=engine.clock(),
        source_event_id=activity.source_event_id,
    )
    account.observe(activity)
    alert = _alert(record, engine)
    decision = _decision(activity, record, alert)
    await uow.scoring.record(
        ScoringOutcome(account, record, owner if register else None, alert, decision)
    )
    _publish(record, alert, uow)
    return record, decision


def _owner(
    activity: Activity, context: ScoringContext, engine: Engine, unknown_owner: bool
) -> tuple[str | None, bool]:
    """The account's owner, and whether the account is to be registered to them now."""
    if context.owner is not None:
        if activity.owner_ref is not None and activity.owner_ref != context.owner:
            raise OwnerMismatch()
        return context.owner, False
    if unknown_owner:
        return None, False
    if activity.owner_ref is None:
        raise UnknownAccount()
    if not engine.auto_register_accounts and not context.member:
        raise UnknownAccount()
    return activity.owner_ref, True


def _alert(record: ScoreRecord, engine: Engine) -> Alert | None:
    if record.decision is Decision.PASS:
        return None
    return Alert(
        alert_id=engine.new_id(),
        score_id=record.score_id,
        kind=record.kind,
        activity_ref=record.activity_ref,
        account_ref=record.account_ref,
        owner_ref=record.owner_ref,
        decision=record.decision,
        value=record.value,
        reasons=record.reasons,
        raised_at=record.scored_at,
    )


def _decision(
    activity: Activity, record: ScoreRecord, alert: Alert | None
) -> PaymentDecision | None:
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        return None
    return PaymentDecision(
        payment_id=activity.ref,
        account_ref=activity.account_ref,
        owner_ref=record.owner_ref,
        amount=-activity.amount,
        currency=activity.currency,
        payee_ref=activity.payee_ref,
        score_id=record.score_id,
        decision=record.decision,
        decided_at=record.scored_at,
        alert_id=alert.alert_id if alert else None,
    )


def _publish(record: ScoreRecord, alert: Alert | None, uow: UnitOfWork) -> None:
    subject = record.owner_ref or record.account_ref
    uow.publish(events.transaction_scored(record), subject=subject, key=record.account_ref)
    if alert is not None:
        uow.publish(events.alert_raised(alert), subject=subject, key=record.account_ref)
