"""Payments' metrics: payments in each live state now, and transitions into every state.

Rules:
- Live (non-terminal) states are a gauge: one grouped count over the ``(state, …)`` index,
  sampled on a schedule by ``sample_live_forever`` and read from memory at scrape time (a scrape
  never touches Postgres, and the scrape callback cannot await a query). Live payments are few
  (they leave those states within minutes), so the query stays cheap however many payments the
  table holds.
- Terminal states (executed, rejected, cancelled, expired) only grow, so they are not counted
  as a stock: every transition is a counter, counted from the ``PaymentTransition`` events a
  unit of work commits, so a rolled-back step counts nothing.
- Labels are a state — never a payment, a member, an amount or a payee.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from common.events.payments import PaymentTransition
from common.logging import get_logger
from common.metrics import meter
from opentelemetry.metrics import CallbackOptions, Observation

from payments.domain.payment import TERMINAL, State
from payments.service.ports import UnitOfWorkFactory

log = get_logger(__name__)
_meter = meter("coffre.payments")
LIVE = tuple(state for state in State if state not in TERMINAL)

transitions = _meter.create_counter(
    "coffre.payments.transitions",
    unit="{payment}",
    description="Payments that entered a state (created included), counted once committed.",
)
_live: dict[State, int] = {}


def count_transition(event: PaymentTransition) -> None:
    """Count one committed step of a payment's life by the state it entered."""
    transitions.add(1, {"state": event.state})


async def sample_live_once(uow: UnitOfWorkFactory) -> dict[State, int]:
    """Count the payments in each live state now; the gauge shows these figures."""
    async with uow() as store:
        counts = await store.payments.count_in(LIVE)
    _live.clear()
    _live.update({state: counts.get(state, 0) for state in LIVE})
    return dict(_live)


async def sample_live_forever(uow: UnitOfWorkFactory, every_seconds: float) -> None:
    while True:
        try:
            await sample_live_once(uow)
        except Exception as exc:  # the next tick retries; metrics never stop the service
            log.warning("payment_states_sample_failed", error=type(exc).__name__)
        await asyncio.sleep(every_seconds)


def _observe_live(_: CallbackOptions) -> Iterable[Observation]:
    for state, count in list(_live.items()):
        yield Observation(count, {"state": state.value})


_meter.create_observable_gauge(
    "coffre.payments.live",
    [_observe_live],
    unit="{payment}",
    description="Payments in each live (non-terminal) state, as last sampled.",
)
