"""Metrics for every Coffre process: OpenTelemetry instruments, scraped as Prometheus text on
``/metrics`` and pushed over OTLP when an endpoint is configured.

Rules: one meter provider per process, installed once (the first service app's lifespan);
instruments are module-level objects created once, so the hot path only adds to them;
attributes are low-cardinality — a route template, a topic, a consumer group, an outcome —
never a member id, an account, an IBAN, a token or a code.
"""

from __future__ import annotations

from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from common import http_metrics

PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST
_configured = False

# Seconds: from sub-millisecond handlers to a slow bank call.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)  # fmt: skip


def configure_metrics(service: str, *, otlp_endpoint: str | None = None) -> None:
    """Install the process's meter provider once: Prometheus always, OTLP when configured; the
    HTTP RED accumulators (``common.http_metrics``) start recording and join both."""
    global _configured
    if _configured:
        return
    resource = Resource.create({"service.name": service})
    readers: list[MetricReader] = [PrometheusMetricReader()]
    REGISTRY.register(http_metrics.PrometheusHttpCollector(http_metrics.REQUESTS))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter = http_metrics.WithHttpMetrics(
            OTLPMetricExporter(endpoint=f"{otlp_endpoint}/v1/metrics"),
            resource,
            http_metrics.REQUESTS,
        )
        readers.append(PeriodicExportingMetricReader(exporter, export_interval_millis=15_000))
    provider = MeterProvider(resource=resource, metric_readers=readers)
    metrics.set_meter_provider(provider)
    http_metrics.REQUESTS.enabled = True
    _configured = True


def meter(name: str = "coffre") -> metrics.Meter:
    """A meter; instruments made before ``configure_metrics`` start recording once it runs."""
    return metrics.get_meter(name)


def prometheus_text() -> bytes:
    """Every metric of this process in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)
