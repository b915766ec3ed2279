"""Use cases that score activity: bank transactions, and payments before they execute.

Rules: activities are scored in batches (one per polled batch of events, or one activity for the
decision endpoint): their accounts are locked first, so one account's activities are scored one
at a time, in order, whichever replica or endpoint scores them; account states come from memory
when their committed head matches, else from the snapshot and the changes after it; scoring is
idempotent per activity (a transaction or payment scored twice keeps its first score and does not
feed the account's history twice); the account must be known and owned by the event's subject:
an account seen for the first time is taken as its subject's when the subject is a registered
member (or when configured to accept any subject), and is unknown otherwise; a transaction whose
subject is not a member *yet* is parked (``fraud.service.parking``), never rejected for that
ordering race; a transaction of an erased member is dropped; the scores, the folded changes, due
snapshots, alerts, parked transactions and their events are committed together; a payment gets
exactly one decision, and asking again with other details is a conflict. A batch that fails
leaves no state in memory for its accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fraud.domain.activity import Activity, ActivityKind
from fraud.domain.errors import DecisionNotFound
from fraud.domain.records import Alert, PaymentDecision, ScoreRecord
from fraud.service import events
from fraud.service.batch import Options, ScoringBatch
from fraud.service.engine import Engine
from fraud.service.ports import BatchContext, UnitOfWork
from fraud.service.state_cache import usable


@dataclass(frozen=True, slots=True)
class DecidedPayment:
    decision: PaymentDecision
    score: ScoreRecord


@dataclass(frozen=True, slots=True)
class Scored:
    """One activity's score, and its payment decision when it is a payment."""

    score: ScoreRecord
    decision: PaymentDecision | None


async def score_activities(
    activities: Sequence[Activity], uow: UnitOfWork, engine: Engine, *, park: bool = False
) -> list[Scored | None]:
    """Score activities in order, in one transaction (each at most once); None for a
    transaction dropped or parked."""
    async with uow:
        scored = await score_in(activities, uow, engine, park=park)
        await uow.commit()
    return scored


async def score_in(
    activities: Sequence[Activity],
    uow: UnitOfWork,
    engine: Engine,
    *,
    park: bool = False,
    unknown_owner: bool = False,
) -> list[Scored | None]:
    """Score activities in order inside an open unit of work (the caller commits). ``park``:
    park a transaction whose subject is not a member yet; ``unknown_owner``: score a transaction
    of an account nobody owns linked to no one. None: the transaction was dropped or parked."""
    accounts = list(dict.fromkeys(a.account_ref for a in activities))
    try:
        context = await _load(activities, accounts, uow, engine)
        batch = ScoringBatch(context, engine, Options(park=park, unknown_owner=unknown_owner))
        results = [batch.score(activity) for activity in activities]
        await uow.scoring.record_many(batch.outcomes, batch.snapshots())
        await _park(batch.parked, uow, engine)
    except BaseException:
        engine.states.forget(accounts)
        raise
    for record, alert in batch.published:
        _publish(record, alert, uow)
    return [Scored(*result) if result is not None else None for result in results]


async def _park(activities: Sequence[Activity], uow: UnitOfWork, engine: Engine) -> None:
    if activities:
        now = engine.clock()
        await uow.parked.park_many(activities, now, now + engine.park_timeout)


async def _load(
    activities: Sequence[Activity], accounts: list[str], uow: UnitOfWork, engine: Engine
) -> BatchContext:
    """The batch's context; an account whose state in memory vanished meanwhile (a failed
    batch forgot it) is read again in full."""
    context = await uow.scoring.load_many(activities, engine.states.heads(accounts))
    missing = {
        a
        for a in accounts
        if a not in context.states and not usable(engine.states.get(a), context.heads.get(a))
    }
    if missing:
        again = await uow.scoring.load_many([a for a in activities if a.account_ref in missing], {})
        context.states.update(again.states)
    return context


async def score_transaction(
    activity: Activity, uow: UnitOfWork, engine: Engine
) -> ScoreRecord | None:
    """Score a booked bank transaction (once); None when it is parked until its owner is known,
    or dropped (an erased member's)."""
    (scored,) = await score_activities([activity], uow, engine, park=True)
    return scored.score if scored is not None else None


async def decide_payment(activity: Activity, uow: UnitOfWork, engine: Engine) -> DecidedPayment:
    """Score a payment and decide whether it may execute (once per payment)."""
    if activity.kind is not ActivityKind.PAYMENT or activity.payee_ref is None:
        raise ValueError("decide_payment needs a payment")
    (scored,) = await score_activities([activity], uow, engine)
    assert scored is not None
    assert scored.decision is not None
    return DecidedPayment(scored.decision, scored.score)


async def payment_decision(payment_id: str, uow: UnitOfWork) -> DecidedPayment:
    """The decision made for a payment, with its score."""
    async with uow:
        decision = await uow.decisions.get(payment_id)
        record = await uow.scores.get(decision.score_id) if decision else None
    if decision is None or record is None:
        raise DecisionNotFound("no decision for this payment")
    return DecidedPayment(decision, record)


def _publish(record: ScoreRecord, alert: Alert | None, uow: UnitOfWork) -> None:
    subject = record.owner_ref or record.account_ref
    uow.publish(events.transaction_scored(record), subject=subject, key=record.account_ref)
    if alert is not None:
        uow.publish(events.alert_raised(alert), subject=subject, key=record.account_ref)
