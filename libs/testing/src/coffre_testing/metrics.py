"""Reading Prometheus text (a service's ``/metrics``) in tests.

Rules: metrics are process-wide and cumulative, so a test compares two scrapes (before and after
the behaviour it exercises) instead of asserting absolute values; a sample is found by its full
name (``_total``, ``_count``, ``_bucket`` included) and a subset of its labels. A test that
polls metrics while the service runs in its own event loop uses ``scrape``: the text is parsed
once, in a worker thread (the parser is pure Python and its cost grows with every series the
test process has accumulated; on the loop it would starve the service it is waiting for).
"""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    return Scrape(text).sample(name, **labels)


def has_sample(text: str, name: str, **labels: str) -> bool:
    """Whether a sample named ``name`` with these labels is exposed at all."""
    return Scrape(text).has(name, **labels)


class Scrape:
    """One ``/metrics`` text, parsed once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._samples: list[Sample] = [
            found for family in text_string_to_metric_families(text) for found in family.samples
        ]

    def _matching(self, name: str, labels: dict[str, str]) -> list[Sample]:
        return [
            found
            for found in self._samples
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items())
        ]

    def sample(self, name: str, **labels: str) -> float:
        """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
        return float(sum(found.value for found in self._matching(name, labels)))

    def has(self, name: str, **labels: str) -> bool:
        """Whether a sample named ``name`` with these labels is exposed at all."""
        return bool(self._matching(name, labels))

    def since(self, before: Scrape, name: str, **labels: str) -> float:
        """How much ``name`` (with these labels) grew between ``before`` and this scrape."""
        return self.sample(name, **labels) - before.sample(name, **labels)


async def scrape(client: httpx.AsyncClient) -> Scrape:
    """GET ``/metrics`` (it must answer 200) and parse it in a worker thread (never on the event
    loop)."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text[:300]
    return await asyncio.to_thread(Scrape, response.text)
