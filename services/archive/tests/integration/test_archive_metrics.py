"""The archive's metrics on /metrics: receipts through intake and processing by outcome, and the
time spent rendering, sealing and storing (no receipt, member or file name as a label)."""

from __future__ import annotations

from typing import Any

import pytest
from archive_it_helpers import jpeg, png
from coffre_testing.metrics import scrape

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
Stack = Any


async def test_receipts_are_counted_by_stage_and_outcome_with_stage_durations(
    stack: Stack, member: str
) -> None:
    before = await scrape(stack.client)
    sealed = await stack.upload(member, jpeg(), name="lunch-receipt.jpg")
    assert sealed.status_code == 201, sealed.text
    refused = await stack.upload(member, png(), name="fake.jpg", content_type="image/jpeg")
    assert refused.status_code == 422
    after = await scrape(stack.client)

    def delta(name: str, **labels: str) -> float:
        return after.since(before, name, **labels)

    receipts = "coffre_archive_receipts_total"
    assert delta(receipts, stage="intake", outcome="accepted") == 1
    assert delta(receipts, stage="intake", outcome="rejected") == 1
    assert delta(receipts, stage="processing", outcome="sealed") == 1
    durations = "coffre_archive_stage_duration_seconds_count"
    assert delta(durations, stage="render") == 1
    assert delta(durations, stage="seal") == 1
    assert delta(durations, stage="store") == 1
    assert delta("coffre_archive_stage_duration_seconds_sum", stage="seal") > 0
    assert member not in after.text
    assert "lunch-receipt" not in after.text
    assert sealed.json()["receipt_id"] not in after.text
