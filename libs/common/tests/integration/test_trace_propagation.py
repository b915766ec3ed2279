"""One trace id follows an HTTP request → outbox → Kafka → consumer, in its log lines (5e)."""

from __future__ import annotations

import uuid

import pytest
from coffre_testing.app import LogCapture, running_app
from coffre_testing.example.service import create_app
from coffre_testing.kafka import collect, header
from coffre_testing.waiting import eventually
from common.logging import configure_logging

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def test_consumer_log_lines_carry_the_http_request_trace_id(infra, example_settings, owner):
    capture = LogCapture()
    configure_logging("example", json=True, stream=capture)  # type: ignore[arg-type]
    trace_id = uuid.uuid4().hex
    traceparent = f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"
    app = create_app(example_settings, consumer_group=f"trace-{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        response = await client.post(
            "/notes", json={"owner": owner, "text": "traced"}, headers={"traceparent": traceparent}
        )
        assert response.status_code == 201

        async def counted() -> bool:
            return any(line.get("owner") == owner for line in capture.events("note_counted"))

        await eventually(counted)
    [published] = await collect(
        infra.bootstrap_servers,
        "example.note-recorded.v1",
        count=1,
        where=lambda r: owner.encode() in r.value,
    )
    assert (header(published, "traceparent") or "").split("-")[1] == trace_id
    [recorded] = [e for e in capture.events("note_recorded") if e.get("owner") == owner]
    [counted_line] = [e for e in capture.events("note_counted") if e.get("owner") == owner]
    assert recorded["trace_id"] == trace_id
    assert counted_line["trace_id"] == trace_id
    assert counted_line["span_id"] != recorded["span_id"]
