"""Use cases for fraud analysts: list alerts, give a verdict, release or cancel held payments.

Rules: every analyst action names the analyst and is written to the audit log in the same
transaction; a verdict teaches the model with the features the alert was scored on, and the
new model is saved with it; a verdict on a held payment's alert releases it (legitimate) or
cancels it (fraud) and publishes that outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fraud.domain.errors import AlertNotFound, DecisionNotFound, PaymentNotHeld
from fraud.domain.model import OnlineModel
from fraud.domain.records import Alert, AlertStatus, AuditEntry, HoldStatus, Verdict
from fraud.service import events
from fraud.service.engine import Engine
from fraud.service.ports import UnitOfWork

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class Analyst:
    """An authenticated analyst (the id comes from a verified access token)."""

    analyst_id: str


async def list_alerts(
    uow: UnitOfWork, *, status: AlertStatus | None, limit: int, before: datetime | None = None
) -> list[Alert]:
    async with uow:
        return await uow.alerts.list(
            status=status, limit=min(max(limit, 1), MAX_PAGE), before=before
        )


async def resolve_alert(
    alert_id: str, verdict: Verdict, analyst: Analyst, uow: UnitOfWork, engine: Engine
) -> Alert:
    """Record an analyst's verdict on an alert and learn from it."""
    async with uow:
        alert, model = await _resolve(alert_id, verdict, analyst, uow, engine)
        await uow.commit()
    engine.models.replace(model)
    return alert


async def settle_payment(
    payment_id: str, verdict: Verdict, analyst: Analyst, uow: UnitOfWork, engine: Engine
) -> Alert:
    """Release (legitimate) or cancel (fraud) a held payment through its alert."""
    async with uow:
        decision = await uow.decisions.get(payment_id)
        if decision is None:
            raise DecisionNotFound("no decision for this payment")
        if decision.status is not HoldStatus.HELD or decision.alert_id is None:
            raise PaymentNotHeld(f"payment is {decision.status.value}, not held")
        alert, model = await _resolve(decision.alert_id, verdict, analyst, uow, engine)
        await uow.commit()
    engine.models.replace(model)
    return alert


async def _resolve(
    alert_id: str, verdict: Verdict, analyst: Analyst, uow: UnitOfWork, engine: Engine
) -> tuple[Alert, OnlineModel]:
    now = engine.clock()
    alert = await uow.alerts.get(alert_id, for_update=True)
    if alert is None:
        raise AlertNotFound("no such alert")
    alert.resolve(verdict, analyst.analyst_id, now)
    await uow.alerts.save(alert)
    await uow.audit.add(AuditEntry(analyst.analyst_id, f"alert.{verdict.value}", alert_id, now, {}))
    model = await _learn(alert, verdict, uow)
    await _settle_held_payment(alert, verdict, analyst, uow, now)
    return alert, model


async def _learn(alert: Alert, verdict: Verdict, uow: UnitOfWork) -> OnlineModel:
    record = await uow.scores.get(alert.score_id)
    state = await uow.models.load(for_update=True)
    model = OnlineModel.from_state(state) if state is not None else OnlineModel()
    if record is not None:
        model.learn(record.features, is_fraud=verdict is Verdict.FRAUD)
        await uow.models.save(model.to_state())
    return model


async def _settle_held_payment(
    alert: Alert, verdict: Verdict, analyst: Analyst, uow: UnitOfWork, now: datetime
) -> None:
    if alert.kind.value != "payment":
        return
    decision = await uow.decisions.get(alert.activity_ref, for_update=True)
    if decision is None or decision.status is not HoldStatus.HELD:
        return
    decision.settle(verdict, analyst.analyst_id, now)
    await uow.decisions.save(decision)
    action = "payment.released" if verdict is Verdict.LEGITIMATE else "payment.cancelled"
    await uow.audit.add(AuditEntry(analyst.analyst_id, action, decision.payment_id, now, {}))
    uow.publish(
        events.hold_resolved(decision, alert.alert_id, now),
        subject=alert.owner_ref or alert.account_ref,
        key=alert.account_ref,
    )


async def get_alert(alert_id: str, uow: UnitOfWork) -> Alert:
    async with uow:
        alert = await uow.alerts.get(alert_id)
    if alert is None:
        raise AlertNotFound("no such alert")
    return alert
