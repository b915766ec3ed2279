"""A scrape of ``/metrics`` never holds up the event loop: the text is built in a worker thread
(its cost grows with every series the process holds; on the loop it would stall consumers,
lease renewals and Kafka responses for as long)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import httpx
import pytest
from coffre_testing.app import ReadyRuntime
from coffre_testing.waiting import patient
from common.http import create_service_app
from common.settings import ServiceSettings
from prometheus_client import REGISTRY
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class _NeedsTheLoop(Collector):
    """A collector that completes only once the event loop has run a callback meanwhile."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.loop_ran = False

    def collect(self) -> Iterator[Metric]:
        ran = threading.Event()
        self.loop.call_soon_threadsafe(ran.set)
        self.loop_ran = ran.wait(timeout=patient(5))
        yield GaugeMetricFamily("coffre_test_scrape_probe", "A scrape probe.", value=1)


async def test_a_scrape_leaves_the_event_loop_running() -> None:
    settings = ServiceSettings.model_validate({"service_name": "scrape-test"})
    app = create_service_app(settings, ReadyRuntime(), title="t")  # type: ignore[arg-type]
    collector = _NeedsTheLoop(asyncio.get_running_loop())
    REGISTRY.register(collector)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            response = await client.get("/metrics")
    finally:
        REGISTRY.unregister(collector)
    assert response.status_code == 200
    assert collector.loop_ran
    assert "coffre_test_scrape_probe 1.0" in response.text
