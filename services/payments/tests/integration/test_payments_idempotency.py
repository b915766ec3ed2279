"""Idempotency keys with Stripe's semantics, against the real stack."""

from __future__ import annotations

import asyncio

import pytest
from payments_it_conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _count(stack: Stack, user_id: str) -> int:
    found: int = await stack.db.fetchval(
        "SELECT count(*) FROM payments WHERE user_id = $1", user_id
    )
    return found


async def test_a_key_replays_its_first_answer_and_never_makes_two_payments(
    lean_stack: Stack,
) -> None:
    stack = lean_stack
    member = stack.member()
    consent = await member.consent()
    first = await member.create(consent, key="key-1")
    again = await member.create(consent, key="key-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = await member.create(consent, amount="26.00", key="key-1")
    assert other.status_code == 422
    assert other.json()["code"] == "payments.idempotency-key-reused"
    racing = await asyncio.gather(*(member.create(consent, key="key-2") for _ in range(4)))
    assert {r.status_code for r in racing} <= {201, 409}
    made = {r.json()["payment_id"] for r in racing if r.status_code == 201}
    assert len(made) == 1
    assert await _count(stack, member.user_id) == 2


async def test_a_refused_request_is_replayed_as_the_same_refusal(lean_stack: Stack) -> None:
    stack = lean_stack
    member = stack.member()
    consent = await member.consent()
    over = await member.create(consent, amount="600.00", key="too-much")
    assert over.status_code == 422
    assert over.json()["code"] == "payments.limit-exceeded"
    replay = await member.create(consent, amount="600.00", key="too-much")
    assert replay.json() == over.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
