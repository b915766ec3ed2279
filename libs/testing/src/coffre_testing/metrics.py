"""Reading Prometheus text (a service's ``/metrics``) in tests.

Rules: metrics are process-wide and cumulative, so a test compares two scrapes (before and after
the behaviour it exercises) instead of asserting absolute values; a sample is found by its full
name (``_total``, ``_count``, ``_bucket`` included) and a subset of its labels.
"""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def sample(text: str, name: str, **labels: str) -> float:
    """The sum of the samples named ``name`` whose labels include ``labels`` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                total += found.value
    return total


def has_sample(text: str, name: str, **labels: str) -> bool:
    """Whether a sample named ``name`` with these labels is exposed at all."""
    return any(
        found.name == name and all(found.labels.get(k) == v for k, v in labels.items())
        for family in text_string_to_metric_families(text)
        for found in family.samples
    )
