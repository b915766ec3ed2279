"""Use cases that score activity: bank transactions, and payments before they execute.

Rules: scoring is idempotent per activity (a transaction or payment scored twice keeps its
first score and does not feed the account's history twice); the account must be known and owned
by the event's subject: an account seen for the first time is taken as its subject's when the
subject is a registered member (or when configured to accept any subject), and is unknown
otherwise; the score, the new state, the alert and their events are
committed together; a payment gets exactly one decision, and asking again with other details
is a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

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
from fraud.service.ports import UnitOfWork


async def score_transaction(activity: Activity, uow: UnitOfWork, engine: Engine) -> ScoreRecord:
    """Score a booked bank transaction (once)."""
    async with uow:
        existing = await uow.scores.find(activity.kind, activity.ref)
        if existing is not None:
            return existing
        record, _ = await _score_and_record(activity, uow, engine)
        await uow.commit()
    return record


@dataclass(frozen=True, slots=True)
class DecidedPayment:
    decision: PaymentDecision
    score: ScoreRecord


async def decide_payment(activity: Activity, uow: UnitOfWork, engine: Engine) -> DecidedPayment:
    """Score a payment and decide whether it may execute (once per payment)."""
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        raise ValueError("decide_payment needs a payment")
    async with uow:
        existing = await uow.decisions.get(activity.ref)
        if existing is not None:
            _check_same(existing, activity)
            return await _view(existing, uow)
        record, alert = await _score_and_record(activity, uow, engine)
        decision = PaymentDecision(
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
        await uow.decisions.add(decision)
        await uow.commit()
    return DecidedPayment(decision, record)


async def payment_decision(payment_id: str, uow: UnitOfWork) -> DecidedPayment:
    """The decision made for a payment, with its score."""
    async with uow:
        decision = await uow.decisions.get(payment_id)
        if decision is None:
            raise DecisionNotFound("no decision for this payment")
        return await _view(decision, uow)


async def _view(decision: PaymentDecision, uow: UnitOfWork) -> DecidedPayment:
    record = await uow.scores.get(decision.score_id)
    assert record is not None, "a decision always has its score"
    return DecidedPayment(decision, record)


def _check_same(existing: PaymentDecision, activity: Activity) -> None:
    payee = activity.payee_ref or ""
    if not existing.same_request(-activity.amount, activity.currency, payee, activity.account_ref):
        raise DecisionMismatch("payment id already decided with other details")


async def _score_and_record(
    activity: Activity, uow: UnitOfWork, engine: Engine
) -> tuple[ScoreRecord, Alert | None]:
    owner = await _owner(activity, uow, engine)
    account = await uow.account_states.get(activity.account_ref)
    account = account or AccountState(activity.account_ref)
    security = await uow.security_states.get(owner) if owner else None
    features = extract(account, security, activity)
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
    await uow.account_states.save(account)
    await uow.scores.add(record)
    uow.publish(
        events.transaction_scored(record),
        subject=owner or activity.account_ref,
        key=activity.account_ref,
    )
    alert = await _raise_alert(record, uow, engine)
    return record, alert


async def _owner(activity: Activity, uow: UnitOfWork, engine: Engine) -> str | None:
    known = await uow.directory.owner_of(activity.account_ref)
    if known is None:
        owner = activity.owner_ref
        if owner is None:
            raise UnknownAccount()
        if not engine.auto_register_accounts and not await uow.directory.is_member(owner):
            raise UnknownAccount()
        await uow.directory.register(activity.account_ref, owner)
        return owner
    if activity.owner_ref is not None and activity.owner_ref != known:
        raise OwnerMismatch()
    return known


async def _raise_alert(record: ScoreRecord, uow: UnitOfWork, engine: Engine) -> Alert | None:
    if record.decision is Decision.PASS:
        return None
    alert = Alert(
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
    await uow.alerts.add(alert)
    uow.publish(
        events.alert_raised(alert),
        subject=record.owner_ref or record.account_ref,
        key=record.account_ref,
    )
    return alert
