"""The HTTP RED metrics (rate, errors, duration) of every Coffre process.

Rules: the series keep the names and labels dashboards and alerts read —
``http_server_duration_milliseconds`` (whole milliseconds), ``http_server_request_size_bytes``,
``http_server_response_size_bytes`` (histograms labelled ``http_method``, ``http_scheme``,
``http_flavor``, ``http_host``, ``http_server_name``, ``http_status_code`` and ``http_target``,
the route template) and the ``http_server_active_requests`` gauge — with OpenTelemetry's default
bucket bounds. Recording is a dict look-up of the label set's accumulators, built on its first
request, then a few additions (no attribute validation or hashing per request); nothing is
recorded until ``configure_metrics`` enables it. At most ``MAX_SERIES`` label sets exist: later
ones are folded into one series labelled ``otel_metric_overflow="true"``. The Prometheus scrape
reads them through a registry collector; the OTLP push adds them to each export
(``with_http_metrics``), cumulative from process start.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import Any

from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricExporter,
    MetricExportResult,
    MetricsData,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from starlette.types import Scope

BOUNDS = (0.0, 5.0, 10.0, 25.0, 50.0, 75.0, 100.0, 250.0, 500.0, 750.0, 1000.0, 2500.0, 5000.0,
          7500.0, 10000.0)  # fmt: skip
KNOWN_METHODS = frozenset({"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT",
                           "QUERY", "TRACE"})  # fmt: skip
ACTIVE_LABELS = ("http_method", "http_scheme", "http_flavor", "http_host", "http_server_name")
LABELS = (*ACTIVE_LABELS, "http_status_code", "http_target")
MAX_SERIES = 2000
OVERFLOW: tuple[str, ...] = ()
SCOPE = InstrumentationScope("coffre.http")
# (Prometheus name, OTLP name, unit, description)
DURATION = ("http_server_duration_milliseconds", "http.server.duration", "ms",
            "Measures the duration of inbound HTTP requests.")  # fmt: skip
REQUEST_SIZE = ("http_server_request_size_bytes", "http.server.request.size", "By",
                "Measures the size of HTTP request messages (compressed).")  # fmt: skip
RESPONSE_SIZE = ("http_server_response_size_bytes", "http.server.response.size", "By",
                 "measures the size of HTTP response messages (compressed).")  # fmt: skip
ACTIVE = (
    "http_server_active_requests",
    "http.server.active_requests",
    "{request}",
    "measures the number of concurrent HTTP requests that are currently in-flight",
)


class _Histogram:
    __slots__ = ("count", "counts", "max", "min", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.count = 0
        self.sum = 0
        self.min = float("inf")
        self.max = float("-inf")

    def observe(self, value: int) -> None:
        self.counts[bisect_left(BOUNDS, value)] += 1
        self.count += 1
        self.sum += value
        if value < self.min:
            self.min = value
        if value > self.max:
            self.max = value


class _Series:
    """The three histograms of one label set."""

    __slots__ = ("duration", "request_size", "response_size")

    def __init__(self) -> None:
        self.duration = _Histogram()
        self.request_size = _Histogram()
        self.response_size = _Histogram()


def server_host(scope: Scope) -> str:
    """``host[:port]`` of the listening socket (the port left out when it is 80)."""
    host, port = scope.get("server") or ("0.0.0.0", 80)  # noqa: S104 - a label, not a bind
    return host if str(port) == "80" else f"{host}:{port}"


class HttpRequests:
    """The process's HTTP request accumulators, one per label set."""

    def __init__(self) -> None:
        self.enabled = False
        self.started_at = time.time_ns()
        self.series: dict[tuple[str, ...], _Series] = {}
        self.active: dict[tuple[str, ...], int] = {}

    def _active_key(self, scope: Scope, host: str) -> tuple[str, ...]:
        method = scope["method"]
        return (
            method if method in KNOWN_METHODS else "_OTHER", scope.get("scheme", "http"),
            scope.get("http_version", "1.1"), server_host(scope), host,
        )  # fmt: skip

    def started(self, scope: Scope, host: str) -> None:
        if self.enabled:
            key = self._active_key(scope, host)
            if key in self.active or len(self.active) < MAX_SERIES:
                self.active[key] = self.active.get(key, 0) + 1

    def finished(
        self, scope: Scope, host: str, route: str | None, status: int, seconds: float,
        request_size: int | None, response_size: int | None,
    ) -> None:  # fmt: skip
        if not self.enabled:
            return
        active = self._active_key(scope, host)
        if active in self.active:
            self.active[active] -= 1
        key = (*active, str(status or 500), route or "")
        series = self.series.get(key)
        if series is None:
            key = key if len(self.series) < MAX_SERIES else OVERFLOW
            series = self.series.setdefault(key, _Series())
        series.duration.observe(max(round(seconds * 1000), 0))
        if request_size is not None:
            series.request_size.observe(request_size)
        if response_size is not None:
            series.response_size.observe(response_size)


REQUESTS = HttpRequests()


def _labels(key: tuple[str, ...], names: Sequence[str]) -> dict[str, str]:
    if key == OVERFLOW:
        return {"otel_metric_overflow": "true"}
    return {name: value for name, value in zip(names, key, strict=True) if value}


def _otlp_attributes(labels: dict[str, str]) -> dict[str, str | int | bool]:
    """The OpenTelemetry attribute names the labels come from (``http.status_code``, an int)."""
    if "otel_metric_overflow" in labels:
        return {"otel.metric.overflow": True}
    attributes: dict[str, str | int | bool] = {
        name.replace("_", ".", 1): value for name, value in labels.items()
    }
    if "http.status_code" in attributes:
        attributes["http.status_code"] = int(attributes["http.status_code"])
    return attributes


def _histograms(
    which: str, series: list[tuple[tuple[str, ...], _Series]]
) -> Iterator[tuple[dict[str, str], _Histogram]]:
    for key, one in series:
        histogram: _Histogram = getattr(one, which)
        if histogram.count:
            yield _labels(key, LABELS), histogram


HISTOGRAMS = (("duration", DURATION), ("request_size", REQUEST_SIZE),
              ("response_size", RESPONSE_SIZE))  # fmt: skip


class PrometheusHttpCollector(Collector):
    """The accumulators as Prometheus families, read at each scrape."""

    def __init__(self, requests: HttpRequests) -> None:
        self.requests = requests

    def collect(self) -> Iterator[Any]:
        series = list(self.requests.series.items())
        gauge = GaugeMetricFamily(ACTIVE[0], ACTIVE[3], labels=ACTIVE_LABELS)
        for key, value in list(self.requests.active.items()):
            gauge.add_metric(list(key), value)
        yield gauge
        for which, (name, _, _, description) in HISTOGRAMS:
            family = HistogramMetricFamily(name, description, labels=LABELS)
            for labels, histogram in _histograms(which, series):
                family.add_metric([labels.get(n, "") for n in LABELS], _buckets(histogram),
                                  histogram.sum)  # fmt: skip
            yield family


def _buckets(histogram: _Histogram) -> list[tuple[str, float]]:
    cumulative, out = 0, list[tuple[str, float]]()
    for bound, count in zip((*BOUNDS, float("inf")), histogram.counts, strict=True):
        cumulative += count
        out.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
    return out


def _point(labels: dict[str, str], h: _Histogram, start: int, now: int) -> HistogramDataPoint:
    return HistogramDataPoint(
        attributes=_otlp_attributes(labels), start_time_unix_nano=start, time_unix_nano=now,
        count=h.count, sum=h.sum, bucket_counts=list(h.counts), explicit_bounds=BOUNDS,
        min=h.min, max=h.max,
    )  # fmt: skip


def otlp_metrics(requests: HttpRequests) -> list[Metric]:
    """The accumulators as OTLP metrics (cumulative since the process started)."""
    now, start = time.time_ns(), requests.started_at
    series = list(requests.series.items())
    metrics = []
    for which, (_, name, unit, description) in HISTOGRAMS:
        points = [_point(labels, h, start, now) for labels, h in _histograms(which, series)]
        data = Histogram(points, AggregationTemporality.CUMULATIVE)
        metrics.append(Metric(name, description, unit, data))
    active = [
        NumberDataPoint(_otlp_attributes(_labels(key, ACTIVE_LABELS)), start, now, value)
        for key, value in list(requests.active.items())
    ]
    sums = Sum(active, AggregationTemporality.CUMULATIVE, is_monotonic=False)
    metrics.append(Metric(ACTIVE[1], ACTIVE[3], ACTIVE[2], sums))
    return metrics


class WithHttpMetrics(MetricExporter):
    """An OTLP exporter that also pushes the HTTP accumulators with every export."""

    def __init__(self, inner: MetricExporter, resource: Resource, requests: HttpRequests) -> None:
        super().__init__(
            preferred_temporality=inner._preferred_temporality,
            preferred_aggregation=inner._preferred_aggregation,
        )
        self.inner, self.resource, self.requests = inner, resource, requests

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        combined = MetricsData(self._joined(metrics_data.resource_metrics))
        return self.inner.export(combined, timeout_millis=timeout_millis, **kwargs)

    def _joined(self, resource_metrics: Sequence[ResourceMetrics]) -> list[ResourceMetrics]:
        """The HTTP scope joins the provider's resource entry (the OTLP encoder keeps one entry
        per resource: a second one for the same resource would replace the first)."""
        http = ScopeMetrics(SCOPE, otlp_metrics(self.requests), "")
        if not resource_metrics:
            return [ResourceMetrics(self.resource, [http], "")]
        first, *rest = resource_metrics
        return [ResourceMetrics(first.resource, [*first.scope_metrics, http], first.schema_url),
                *rest]  # fmt: skip

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self.inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self.inner.shutdown(timeout_millis=timeout_millis, **kwargs)
