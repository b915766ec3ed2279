"""Payments' metrics on /metrics: transitions into each state, counted once committed, and the
payments in each live state as last sampled (no payment, member or amount as a label)."""

from __future__ import annotations

import pytest
from coffre_testing.metrics import scrape
from payments.service.metrics import sample_live_once
from payments_it_conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_transitions_are_counted_and_live_states_sampled(lean_stack: Stack) -> None:
    stack = lean_stack
    member = stack.member()
    consent = await member.consent()
    before = await scrape(stack.client)
    first = await member.create(consent)
    second = await member.create(consent, amount="12.00")
    assert (first.status_code, second.status_code) == (201, 201)
    assert (await member.authorise(first.json())).status_code == 200
    live = await sample_live_once(stack.container.ctx.uow)
    after = await scrape(stack.client)

    def delta(state: str) -> float:
        return after.since(before, "coffre_payments_transitions_total", state=state)

    assert delta("awaiting_authorisation") == 2
    assert delta("authorised") == 1
    gauge = "coffre_payments_live"
    assert live["awaiting_authorisation"] == 1
    assert after.sample(gauge, state="awaiting_authorisation") == 1
    assert sum(live.values()) == 2
    assert after.sample(gauge, state="executed") == 0  # terminal states are not a stock
    assert member.user_id not in after.text
    assert first.json()["payment_id"] not in after.text
