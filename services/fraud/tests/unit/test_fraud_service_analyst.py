from __future__ import annotations

from collections.abc import Callable

import pytest
from common.events.fraud import PaymentHoldResolved
from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.domain.errors import (
    AlertAlreadyResolved,
    AlertNotFound,
    DecisionNotFound,
    PaymentNotHeld,
)
from fraud.domain.records import AlertStatus, HoldStatus, Verdict
from fraud.domain.scoring import Decision
from fraud.service.analyst import Analyst, list_alerts, resolve_alert, settle_payment
from fraud.service.engine import Engine
from fraud.service.scoring import decide_payment
from fraud_builders import StepClock, payment

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]
Uow = Callable[[], MemoryUnitOfWork]
ALICE = Analyst("analyst-alice")


async def _burst(uow: Uow, engine: Engine, clock: StepClock, n: int = 6) -> None:
    for i in range(n):
        at = clock.advance(seconds=20)
        await decide_payment(payment(f"ct-{i}", amount="1.00", at=at), uow(), engine)


def _held(store: MemoryStore) -> str:
    return next(p for p, d in store.decisions.items() if d.status is HoldStatus.HELD)


async def test_verdict_names_the_analyst_and_is_audited(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    alert_id = next(iter(store.alerts))
    alert = await resolve_alert(alert_id, Verdict.FRAUD, ALICE, uow(), engine)
    assert alert.status is AlertStatus.RESOLVED
    assert (alert.verdict, alert.analyst_id) == (Verdict.FRAUD, "analyst-alice")
    entry = store.audit[0]
    assert (entry.actor_id, entry.action, entry.target) == (
        "analyst-alice",
        "alert.fraud",
        alert_id,
    )


async def test_verdict_teaches_the_model_and_saves_it(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    alert_id = next(iter(store.alerts))
    await resolve_alert(alert_id, Verdict.FRAUD, ALICE, uow(), engine)
    assert store.model is not None
    assert store.model["version"] == 1
    assert store.model["positives"] == 1
    assert engine.models.current.version == 1


async def test_alert_is_resolved_only_once(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    alert_id = next(iter(store.alerts))
    await resolve_alert(alert_id, Verdict.FRAUD, ALICE, uow(), engine)
    audited = len(store.audit)
    with pytest.raises(AlertAlreadyResolved):
        await resolve_alert(alert_id, Verdict.LEGITIMATE, Analyst("bob"), uow(), engine)
    assert len(store.audit) == audited
    assert store.model is not None
    assert store.model["version"] == 1


async def test_unknown_alert_is_not_found(uow: Uow, engine: Engine) -> None:
    with pytest.raises(AlertNotFound):
        await resolve_alert("nope", Verdict.FRAUD, ALICE, uow(), engine)


async def test_legitimate_verdict_releases_a_held_payment(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    payment_id = _held(store)
    await settle_payment(payment_id, Verdict.LEGITIMATE, ALICE, uow(), engine)
    decision = store.decisions[payment_id]
    assert decision.status is HoldStatus.RELEASED
    assert decision.analyst_id == "analyst-alice"
    event = store.outbox[-1][0]
    assert isinstance(event, PaymentHoldResolved)
    assert (event.payment_id, event.outcome) == (payment_id, "released")
    assert [e.action for e in store.audit] == ["alert.legitimate", "payment.released"]


async def test_fraud_verdict_on_the_alert_cancels_the_held_payment(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    payment_id = _held(store)
    alert_id = store.decisions[payment_id].alert_id
    assert alert_id is not None
    await resolve_alert(alert_id, Verdict.FRAUD, ALICE, uow(), engine)
    assert store.decisions[payment_id].status is HoldStatus.CANCELLED
    event = store.outbox[-1][0]
    assert isinstance(event, PaymentHoldResolved)
    assert event.outcome == "cancelled"


async def test_payment_that_is_not_held_cannot_be_released(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    cleared = next(p for p, d in store.decisions.items() if d.decision is Decision.PASS)
    blocked = next(p for p, d in store.decisions.items() if d.decision is Decision.BLOCK)
    for payment_id in (cleared, blocked):
        with pytest.raises(PaymentNotHeld):
            await settle_payment(payment_id, Verdict.LEGITIMATE, ALICE, uow(), engine)
    with pytest.raises(DecisionNotFound):
        await settle_payment("unknown", Verdict.LEGITIMATE, ALICE, uow(), engine)


async def test_alerts_list_newest_first_filtered_by_status(
    store: MemoryStore, uow: Uow, engine: Engine, clock: StepClock
) -> None:
    await _burst(uow, engine, clock)
    every = await list_alerts(uow(), status=None, limit=50)
    assert [a.raised_at for a in every] == sorted((a.raised_at for a in every), reverse=True)
    await resolve_alert(every[0].alert_id, Verdict.FRAUD, ALICE, uow(), engine)
    still_open = await list_alerts(uow(), status=AlertStatus.OPEN, limit=50)
    assert len(still_open) == len(every) - 1
    assert len(await list_alerts(uow(), status=None, limit=1)) == 1
    older = await list_alerts(uow(), status=None, limit=50, before=every[0].raised_at)
    assert every[0].alert_id not in {a.alert_id for a in older}
