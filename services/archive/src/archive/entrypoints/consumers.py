"""Archive's Kafka subscriber: one consumer group for the four event types it reacts to
(members' verified addresses, movements to match, erasure), so it joins the broker once.

Rules: a polled batch is handled with set-based writes in the consumer's one transaction; it is
cut into runs of consecutive events of the same kind (registrations, movements, erasures),
handled in the batch's order, so a batch has the effects of its events one by one in order
(an erasure between two movements of the member still comes between them). Erasures are
handled one by one: each has its own proof (`ErasureCompleted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from itertools import groupby

from common.db.uow import UnitOfWork
from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from common.events.erasure import ErasureRequested
from common.events.payments import PaymentExecuted
from common.messaging import subscribe
from common.messaging.handlers import Received
from common.runtime import Runtime

from archive.adapters.pg_uow import PgStore
from archive.container import Container
from archive.domain.matching import Movement
from archive.service import erasure, matching, members
from archive.service.context import Context


def _kind(received: Received) -> str:
    if isinstance(received.event, UserRegistered):
        return "member"
    if isinstance(received.event, ErasureRequested):
        return "erasure"
    return "movement"


def movement_of(received: Received) -> Movement:
    event, envelope = received.event, received.envelope
    if isinstance(event, TransactionIngested):
        return matching.movement(
            "transaction",
            event.transaction_ref,
            event.user_id,
            event.amount,
            event.currency,
            event.booking_date,
        )
    assert isinstance(event, PaymentExecuted)
    on = event.executed_at.astimezone(UTC).date()
    return matching.movement(
        "payment", event.payment_id, envelope.subject, event.amount, event.currency, on
    )


async def handle_run(ctx: Context, store: PgStore, kind: str, run: list[Received]) -> None:
    if kind == "member":
        registered = [
            (str(r.event.user_id), r.event.verified_email)
            for r in run
            if isinstance(r.event, UserRegistered)
        ]
        await members.members_registered(store, registered)
    elif kind == "movement":
        await matching.match_new_movements(ctx, store, [movement_of(r) for r in run])
    else:
        for r in run:
            assert isinstance(r.event, ErasureRequested)
            await erasure.erase_member(ctx, store, r.event.user_id, r.event.request_id)


async def handle_batch(container: Container, events: Sequence[Received], uow: UnitOfWork) -> None:
    """One polled batch, run by run, in the consumer's unit of work (which commits)."""
    ctx = await container.ready()
    store = PgStore(uow)
    for kind, run in groupby(events, key=_kind):
        await handle_run(ctx, store, kind, list(run))


def register(runtime: Runtime, container: Container) -> None:
    async def on_events(events: Sequence[Received], uow: UnitOfWork) -> None:
        """Members' verified addresses, receipts matched to movements, erasure vs retention."""
        await handle_batch(container, events, uow)

    subscribe(
        runtime,
        consumer=container.settings.consumer_group,
        events=[UserRegistered, TransactionIngested, PaymentExecuted, ErasureRequested],
        handle_many=on_events,
    )
