"""Step-up authorisations: one operation, one member, one use, in time."""

from __future__ import annotations

import pytest
from payments_it_conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_step_up_for_another_operation_member_or_time_is_refused(lean_stack: Stack) -> None:
    stack = lean_stack
    member, other = stack.member(), stack.member()
    consent = await member.consent()
    created = (await member.create(consent)).json()
    op = created["operation"]
    cases = {
        "stepup.operation-mismatch": stack.tokens.stepup(member.user_id, op | {"amount": "2500"}),
        "stepup.invalid": stack.tokens.stepup(other.user_id, op),
        "stepup.expired": stack.tokens.stepup(member.user_id, op, lifetime=-10),
    }
    for code, token in cases.items():
        refused = await member.authorise(created, token)
        assert (refused.status_code, refused.json()["code"]) == (403, code), refused.text
    token = stack.tokens.stepup(member.user_id, op)
    assert (await member.authorise(created, token)).status_code == 200
    replayed = await member.authorise(created, token)
    assert replayed.status_code == 409
    from_other = await stack.client.post(
        f"/v1/payments/{created['payment_id']}/authorise",
        json={"stepup_token": token}, headers=other.headers(),
    )  # fmt: skip
    assert from_other.status_code == 404
