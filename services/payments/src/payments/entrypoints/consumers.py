"""Payments' Kafka subscribers: fraud's decisions and hold resolutions, auth's session
revocations, and erasure requests. Each runs in the consumer's unit of work (inbox, effects
and outbox commit together) and ends in one use case."""

from __future__ import annotations

from common.db.uow import UnitOfWork
from common.events import Envelope, Event
from common.events.auth import SessionRevoked
from common.events.erasure import ErasureRequested
from common.events.fraud import PaymentHoldResolved, TransactionScored
from common.messaging import subscribe
from common.runtime import Runtime

from payments.adapters.pg_uow import PgStore
from payments.container import Container
from payments.service.erasure import erase_member
from payments.service.screening import apply_decision, apply_hold_resolution
from payments.service.sessions import session_revoked


def register(runtime: Runtime, container: Container) -> None:
    async def on_fraud(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """Apply fraud's decision on a payment (pass, review, block) or an analyst's settlement."""
        ctx = await container.ready()
        now = ctx.clock.now()
        if isinstance(event, TransactionScored):
            if event.kind != "payment":
                return
            changed = await apply_decision(PgStore(uow), event.activity_ref, event.decision, now)
        else:
            assert isinstance(event, PaymentHoldResolved)
            released = event.outcome == "released"
            changed = await apply_hold_resolution(
                PgStore(uow), event.payment_id, released, event.analyst_id, now
            )
        if changed:
            container.kick()

    async def on_session(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """A signed-out session can no longer create or authorise payments."""
        assert isinstance(event, SessionRevoked)
        ctx = await container.ready()
        await session_revoked(
            PgStore(uow), str(event.session_id), str(event.user_id), event.reason, ctx.clock.now()
        )

    async def on_erasure(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        """Revoke the member's payment consents and pseudonymise the records kept for AML."""
        assert isinstance(event, ErasureRequested)
        ctx = await container.ready()
        await erase_member(ctx, PgStore(uow), event.user_id, event.request_id, ctx.clock.now())

    group = container.settings.consumer_group_prefix
    subscribe(runtime, consumer=f"{group}.fraud", events=[TransactionScored, PaymentHoldResolved],
              handler=on_fraud)  # fmt: skip
    subscribe(runtime, consumer=f"{group}.sessions", events=[SessionRevoked], handler=on_session)
    subscribe(runtime, consumer=f"{group}.erasure", events=[ErasureRequested], handler=on_erasure)
