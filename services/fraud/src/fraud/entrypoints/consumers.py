"""Kafka edge: the events fraud consumes, each ending in one use case.

Rules: every handler runs in the consumer's unit of work (inbox claim, effects and outbox
commit together, a polled batch at a time); payments and transactions share one consumer and
are scored as one batch (set-based writes, one commit), their accounts locked in one global
order; an event fraud cannot score raises ``EventRejected`` with a reason (the consumer then
redoes the batch one event at a time) and goes to the dead-letter topic while the others are
scored; a batch is what the consumer has fetched by the time the previous batch committed
(``FRAUD_BATCH_MAX_EVENTS`` at most), never held back more than ``FRAUD_BATCH_MAX_WAIT_MS`` to
fill up; security events are handled a batch at a time too (one erased-member read, set-based
signal writes); the payload's member id is preferred over the envelope's subject when both
exist.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, time
from functools import partial
from typing import Any

from common.db import UnitOfWork
from common.events import Envelope, Event
from common.events import auth as auth_events
from common.events.aggregation import ConsentExpiring, TransactionIngested
from common.events.erasure import ErasureRequested
from common.events.payments import PaymentInitiated
from common.logging import get_logger
from common.messaging import Received, subscribe
from common.runtime import Runtime

from fraud.adapters.pg_state_loader import PgStateLoader
from fraud.adapters.pg_uow import PgUnitOfWork
from fraud.bootstrap import Container
from fraud.domain.activity import Activity, SecuritySignal, SignalKind
from fraud.domain.validation import parse_payment, parse_transaction
from fraud.entrypoints.rebalance import HoldAssignedAccounts
from fraud.service.erasure import erase_member, erased_among
from fraud.service.metrics import record_latencies
from fraud.service.scoring import Scored, score_in
from fraud.service.signals import record_signals, register_member
from fraud.service.warmup import hold_owned

log = get_logger(__name__)

AUTH_SIGNALS: dict[type[Event], SignalKind] = {
    auth_events.LoginSucceeded: SignalKind.LOGIN,
    auth_events.LoginFailed: SignalKind.LOGIN_FAILED,
    auth_events.StepUpVerified: SignalKind.STEP_UP,
    auth_events.StepUpFailed: SignalKind.STEP_UP_FAILED,
    auth_events.FactorEnrolled: SignalKind.FACTOR_CHANGED,
    auth_events.FactorRemoved: SignalKind.FACTOR_CHANGED,
}


def consumers(container: Container) -> Callable[[Runtime], None]:
    """Subscribe fraud's handlers (called by the runtime when it starts)."""

    async def on_activity(events: Sequence[Received], uow: UnitOfWork) -> None:
        """Score each initiated payment (and decide on it, once, even if payments asked first)
        and each new bank transaction of a member's linked account, a polled batch at a time; a
        transaction of a member not registered yet is parked, an event of an erased member is
        dropped (payments here, transactions by the scoring query)."""
        borrowed = PgUnitOfWork.borrow(uow)
        payments = [_member(r) for r in events if isinstance(r.event, PaymentInitiated)]
        erased = await _erased(payments, borrowed)
        kept = [r for r in events if not (erased and _erased_payment(r, erased))]
        now = container.engine.clock()
        activities = [_activity(container, received, now) for received in kept]
        if not activities:
            return
        async with borrowed:
            scored = await score_in(activities, borrowed, container.engine, park=True)
        uow.after_commit(partial(record_latencies, _newly_scored(kept, scored)))

    async def on_security(events: Sequence[Received], uow: UnitOfWork) -> None:
        """Remember members, their sign-ins, step-ups, factor changes and expiring consents, a
        polled batch at a time, in order (signals set-based, a registration scores what was
        parked for its member); an event about an erased member is dropped."""
        borrowed = PgUnitOfWork.borrow(uow)
        erased = await _erased([_member(r) for r in events], borrowed)
        signals: list[SecuritySignal] = []
        for received in events:
            event, envelope = received.event, received.envelope
            if _member(received) in erased:
                log.info("event_of_erased_member_dropped", event_type=envelope.type)
            elif isinstance(event, auth_events.UserRegistered):
                await _record(signals, borrowed)
                await register_member(str(event.user_id), borrowed, container.engine)
            elif (signal := to_signal(event, envelope)) is not None:
                signals.append(signal)
        await _record(signals, borrowed)

    async def on_erasure(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """Erase fraud's part of a member's data and prove it."""
        assert isinstance(event, ErasureRequested)
        await erase_member(
            event.user_id, event.request_id, PgUnitOfWork.borrow(uow), container.engine
        )

    def register(runtime: Runtime) -> None:
        group = container.settings.consumer_group_prefix
        activity: list[type[Event]] = [PaymentInitiated, TransactionIngested]
        s = container.settings
        subscribe(
            runtime,
            consumer=f"{group}.activity",
            events=activity,
            handle_many=on_activity,
            max_records=s.batch_max_events,
            max_wait_ms=s.batch_max_wait_ms,
            fetch_max_wait_ms=s.fetch_max_wait_ms,
            listener=_assignments(container, runtime),
            co_partitioned=True,  # an account's payments and transactions reach one replica
        )
        security: list[type[Event]] = [auth_events.UserRegistered, *AUTH_SIGNALS, ConsentExpiring]
        subscribe(runtime, consumer=f"{group}.security", events=security, handle_many=on_security)
        subscribe(
            runtime, consumer=f"{group}.erasure", events=[ErasureRequested], handler=on_erasure
        )

    return register


def _newly_scored(
    events: Sequence[Received], scored: Sequence[Scored | None]
) -> list[tuple[str, datetime]]:
    """(kind, occurred_at) of each event scored now (not parked, not scored before)."""
    return [
        (result.score.kind.value, received.envelope.occurred_at)
        for received, result in zip(events, scored, strict=True)
        if result is not None and result.score.source_event_id == str(received.envelope.event_id)
    ]


def _assignments(container: Container, runtime: Runtime) -> HoldAssignedAccounts:
    async def partitions_of(topic: str) -> set[int]:
        found: set[int] = await runtime.producer_for_dead_letters().partitions_for(topic)
        return found

    async def hold(owns: Callable[[str], bool]) -> int:
        return await hold_owned(PgStateLoader(runtime.db), owns, container.engine)

    return HoldAssignedAccounts(partitions_of, hold)


def _activity(container: Container, received: Received, now: datetime | None = None) -> Activity:
    """The event's activity, parsed from the fields the consumer already validated (not from a
    JSON dump of them: same values, same checks, same rejections); ``now``: the batch's clock."""
    event, envelope = received.event, received.envelope
    at, limits = now or container.engine.clock(), container.engine.limits
    event_id = str(envelope.event_id)
    if isinstance(event, PaymentInitiated):
        owner = envelope.subject
        return parse_payment(
            _fields(event), owner_ref=owner, event_id=event_id, now=at, limits=limits
        )
    assert isinstance(event, TransactionIngested)
    owner = event.user_id
    return parse_transaction(
        _fields(event), owner_ref=owner, event_id=event_id, now=at, limits=limits
    )


def _member(received: Received) -> str:
    """Whom an event is about: the payload's member id, else the envelope's subject."""
    member = getattr(received.event, "user_id", None)
    return str(member) if member else received.envelope.subject


def _erased_payment(received: Received, erased: set[str]) -> bool:
    return isinstance(received.event, PaymentInitiated) and _member(received) in erased


async def _erased(members: list[str], uow: PgUnitOfWork) -> set[str]:
    """The erased members among a batch's (one read; a transaction's check rides on the scoring
    query): a late or redelivered event about them is dropped, never stored."""
    found = await erased_among(members, uow) if members else set()
    if found:
        log.info("events_of_erased_members_dropped", members=len(found))
    return found


async def _record(signals: list[SecuritySignal], uow: PgUnitOfWork) -> None:
    if signals:
        await record_signals(signals, uow)
        signals.clear()


def _fields(event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = event.__dict__
    return fields


def to_signal(event: Event, envelope: Envelope) -> SecuritySignal | None:
    """An auth or aggregation event as a security signal (None when it concerns no member)."""
    source = str(envelope.event_id)
    if isinstance(event, ConsentExpiring):
        expires = datetime.combine(event.expires_on, time.max, tzinfo=UTC)
        return SecuritySignal(
            SignalKind.CONSENT_GRANTED,
            event.user_id,
            envelope.occurred_at,
            consent_ref=event.connection_id,
            expires_at=expires,
            source_event_id=source,
        )
    kind = AUTH_SIGNALS.get(type(event))
    user_id = getattr(event, "user_id", None)
    if kind is None or user_id is None:
        return None
    device = getattr(event, "user_agent", None) if kind is SignalKind.LOGIN else None
    return SecuritySignal(
        kind, str(user_id), envelope.occurred_at, device_id=device, source_event_id=source
    )
