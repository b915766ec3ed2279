"""A report week outside the calendar Coffre can report on is a 422 problem, never a 500."""

from __future__ import annotations

import uuid

import pytest
from fraud_it_conftest import RunningFraud

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest.mark.parametrize("week", ["0247-W52", "0001-W01", "9999-W52", "2026-W53", "2026-W00"])
async def test_report_week_out_of_range_is_a_422_problem(fraud: RunningFraud, week: str) -> None:
    owner = f"user-{uuid.uuid4().hex[:10]}"
    answer = await fraud.client.post(
        "/v1/reports", headers=fraud.tokens.access(owner), json={"week": week}
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "fraud.week-invalid"
