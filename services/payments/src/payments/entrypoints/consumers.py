"""Payments' Kafka subscribers: fraud's decisions and hold resolutions, auth's session
revocations, and erasure requests. Each takes a polled batch (``handle_many``) in the
consumer's unit of work (inbox, effects and outbox commit together) and ends in one use case:
fraud's outcomes and session revocations are applied set-based, in the batch's order; an
erasure calls the vault and the bank, so members are erased one after another."""

from __future__ import annotations

from collections.abc import Sequence

from common.db.uow import UnitOfWork
from common.events.auth import SessionRevoked
from common.events.erasure import ErasureRequested
from common.events.fraud import PaymentHoldResolved, TransactionScored
from common.messaging import Received, subscribe
from common.runtime import Runtime

from payments.adapters.pg_uow import PgStore
from payments.container import Container
from payments.service.erasure import erase_member
from payments.service.screening import FraudOutcome, apply_fraud_outcomes
from payments.service.sessions import RevokedSession, sessions_revoked


def fraud_outcomes(events: Sequence[Received]) -> list[FraudOutcome]:
    """The payment decisions and hold settlements among fraud's events, in their order."""
    outcomes = []
    for received in events:
        event = received.event
        if isinstance(event, TransactionScored) and event.kind == "payment":
            outcomes.append(FraudOutcome(event.activity_ref, decision=event.decision))
        elif isinstance(event, PaymentHoldResolved):
            released = event.outcome == "released"
            outcomes.append(FraudOutcome(event.payment_id, None, released, event.analyst_id))
    return outcomes


def register(runtime: Runtime, container: Container) -> None:
    async def on_fraud(events: Sequence[Received], uow: UnitOfWork) -> None:
        """Apply fraud's decisions on payments (pass, review, block) and analysts'
        settlements of held payments, in order."""
        ctx = await container.ready()
        outcomes = fraud_outcomes(events)
        if outcomes and await apply_fraud_outcomes(PgStore(uow), outcomes, ctx.clock.now()):
            container.kick()

    async def on_sessions(events: Sequence[Received], uow: UnitOfWork) -> None:
        """A signed-out session can no longer create or authorise payments."""
        ctx = await container.ready()
        revoked = [
            RevokedSession(str(e.session_id), str(e.user_id), e.reason)
            for r in events
            if isinstance(e := r.event, SessionRevoked)
        ]
        await sessions_revoked(PgStore(uow), revoked, ctx.clock.now())

    async def on_erasure(events: Sequence[Received], uow: UnitOfWork) -> None:
        """Revoke the member's payment consents and pseudonymise the records kept for AML."""
        ctx = await container.ready()
        store = PgStore(uow)
        for received in events:
            event = received.event
            assert isinstance(event, ErasureRequested)
            await erase_member(ctx, store, event.user_id, event.request_id, ctx.clock.now())

    group = container.settings.consumer_group_prefix
    subscribe(runtime, consumer=f"{group}.fraud", events=[TransactionScored, PaymentHoldResolved],
              handle_many=on_fraud)  # fmt: skip
    subscribe(runtime, consumer=f"{group}.sessions", events=[SessionRevoked],
              handle_many=on_sessions)  # fmt: skip
    subscribe(runtime, consumer=f"{group}.erasure", events=[ErasureRequested],
              handle_many=on_erasure)  # fmt: skip
