"""Every service request gets one server span in the caller's trace and is counted once in the
RED metrics under its route template; probes and the scrape are neither traced nor counted."""

from __future__ import annotations

import http.server
import re
import threading
import uuid
from typing import Any, ClassVar

import httpx
import pytest
from coffre_testing.app import ReadyRuntime
from common import http_metrics
from common.http import create_service_app
from common.metrics import configure_metrics, prometheus_text
from common.settings import ServiceSettings
from common.tracing import configure_tracing, current_trace_carrier
from fastapi import APIRouter
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from starlette.types import ASGIApp, Receive, Scope, Send

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

EXPORTER = InMemorySpanExporter()
_configured: list[bool] = []
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"


class _Refuse:
    """A service's own outer layer that answers some requests itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].endswith("/refused"):
            await send({"type": "http.response.start", "status": 413, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"/t{uuid.uuid4().hex[:8]}"


@pytest.fixture
def client(prefix: str) -> httpx.AsyncClient:
    if not _configured:
        configure_tracing("telemetry-test", exporter=EXPORTER)
        configure_metrics("telemetry-test")
        _configured.append(True)
    router = APIRouter(prefix=prefix)
    seen: dict[str, Any] = {}

    @router.post("/things/{thing}")
    async def thing(thing: str) -> dict[str, str]:
        seen["carrier"] = current_trace_carrier()
        return {"thing": thing}

    @router.get("/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    settings = ServiceSettings.model_validate({"service_name": "telemetry-test"})
    app = create_service_app(settings, ReadyRuntime(), title="t", routers=[router])  # type: ignore[arg-type]
    app.add_middleware(_Refuse)
    app.state.seen = seen
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


def _spans(path_part: str) -> list[ReadableSpan]:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    provider.force_flush()
    return [
        s for s in EXPORTER.get_finished_spans()
        if path_part in str((s.attributes or {}).get("http.target"))
    ]  # fmt: skip


def _count(prefix: str, route: str, status: int) -> float:
    pattern = (
        rf'^http_server_duration_milliseconds_count\{{[^}}]*http_status_code="{status}",'
        rf'http_target="{re.escape(prefix + route)}"\}} (\S+)$'
    )
    found = re.search(pattern, prometheus_text().decode(), re.M)
    return float(found.group(1)) if found else 0.0


async def test_request_span_continues_the_callers_trace_and_is_current_for_the_app(
    client: httpx.AsyncClient, prefix: str
) -> None:
    answer = await client.post(f"{prefix}/things/t-42", headers={"traceparent": TRACEPARENT})
    assert answer.status_code == 200
    [span] = _spans(f"{prefix}/things/t-42")
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == "b7ad6b7169203331"
    assert span.kind is SpanKind.SERVER
    assert span.name == f"POST {prefix}/things/{{thing}}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == f"{prefix}/things/{{thing}}"
    assert span.attributes["http.status_code"] == 200
    carrier = client._transport.app.state.seen["carrier"]  # type: ignore[attr-defined]
    assert carrier["traceparent"].split("-")[1:3] == [
        TRACE_ID,
        format(span.context.span_id, "016x"),
    ]


async def test_request_without_trace_context_starts_a_new_trace(
    client: httpx.AsyncClient, prefix: str
) -> None:
    await client.post(f"{prefix}/things/fresh")
    [span] = _spans(f"{prefix}/things/fresh")
    assert span.parent is None
    assert span.context.trace_id != int(TRACE_ID, 16)


async def test_requests_are_counted_per_route_template_and_status_never_per_path(
    client: httpx.AsyncClient, prefix: str
) -> None:
    before = _count(prefix, "/things/{thing}", 200)
    for n in range(3):
        await client.post(f"{prefix}/things/member-{n}")
    assert _count(prefix, "/things/{thing}", 200) == before + 3
    assert "member-1" not in prometheus_text().decode()


async def test_a_crash_is_counted_as_a_500_and_its_span_is_an_error(
    client: httpx.AsyncClient, prefix: str
) -> None:
    before = _count(prefix, "/crash", 500)
    answer = await client.get(f"{prefix}/crash")
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    assert _count(prefix, "/crash", 500) == before + 1
    [span] = _spans(f"{prefix}/crash")
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


async def test_a_request_refused_by_a_services_own_layer_is_still_traced_and_counted(
    client: httpx.AsyncClient, prefix: str
) -> None:
    answer = await client.post(f"{prefix}/refused")
    assert answer.status_code == 413
    assert len(_spans(f"{prefix}/refused")) == 1
    text = prometheus_text().decode()
    assert re.search(
        r'^http_server_duration_milliseconds_count\{[^}]*http_status_code="413"', text, re.M
    )


async def test_probes_and_the_scrape_are_neither_traced_nor_counted(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/health/live", "/health/ready", "/metrics"):
        assert (await client.get(path)).status_code == 200
    assert _spans("/health/") == []
    assert _spans("/metrics") == []
    lines = [line for line in prometheus_text().decode().splitlines() if "http_target" in line]
    assert not [line for line in lines if "/health/" in line or '"/metrics"' in line]


async def test_inside_a_current_span_a_request_is_an_internal_child(
    client: httpx.AsyncClient, prefix: str
) -> None:
    with trace.get_tracer("test").start_as_current_span("caller") as outer:
        await client.post(f"{prefix}/things/inner")
    [span] = _spans(f"{prefix}/things/inner")
    assert span.kind is SpanKind.INTERNAL
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id


class _Capture(MetricExporter):
    def __init__(self) -> None:
        super().__init__()
        self.exported: list[MetricsData] = []

    def export(
        self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any
    ) -> MetricExportResult:
        self.exported.append(metrics_data)
        return MetricExportResult.SUCCESS

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return True

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        return None


async def test_the_otlp_push_carries_the_http_metrics_with_their_labels() -> None:
    requests = http_metrics.HttpRequests()
    requests.enabled = True
    scope = {
        "method": "POST",
        "scheme": "http",
        "http_version": "1.1",
        "server": ("10.0.0.1", 8002),
    }
    requests.started(scope, "vault:8002")
    requests.finished(scope, "vault:8002", "/v1/x/{id}", 503, 0.0042, 10, 99)
    inner = _Capture()
    exporter = http_metrics.WithHttpMetrics(inner, Resource.create({"service.name": "v"}), requests)
    exporter.export(MetricsData(resource_metrics=[]))
    [data] = inner.exported
    [resource] = data.resource_metrics
    metrics = {m.name: m for m in resource.scope_metrics[0].metrics}
    assert set(metrics) == {"http.server.duration", "http.server.request.size",
                            "http.server.response.size", "http.server.active_requests"}  # fmt: skip
    [point] = metrics["http.server.duration"].data.data_points
    assert (point.count, point.sum) == (1, 4)  # type: ignore[union-attr]
    assert point.attributes == {
        "http.method": "POST", "http.scheme": "http", "http.flavor": "1.1",
        "http.host": "10.0.0.1:8002", "http.server_name": "vault:8002",
        "http.status_code": 503, "http.target": "/v1/x/{id}",
    }  # fmt: skip
    [active] = metrics["http.server.active_requests"].data.data_points
    assert active.value == 0  # type: ignore[union-attr]


class _Collector(http.server.BaseHTTPRequestHandler):
    """An OTLP/HTTP metrics endpoint that keeps what it was sent."""

    received: ClassVar[list[ExportMetricsServiceRequest]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_the_otlp_push_keeps_the_services_own_metrics_beside_the_http_ones() -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    requests = http_metrics.HttpRequests()
    requests.enabled = True
    scope = {"method": "GET", "scheme": "http", "http_version": "1.1", "server": ("10.0.0.1", 80)}
    requests.finished(scope, "vault", "/v1/y", 200, 0.001, None, 12)
    resource = Resource.create({"service.name": "otlp-test"})
    url = f"http://127.0.0.1:{server.server_port}/v1/metrics"
    exporter = http_metrics.WithHttpMetrics(OTLPMetricExporter(endpoint=url), resource, requests)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(resource=resource, metric_readers=[reader])
    try:
        provider.get_meter("coffre").create_counter("coffre_test_things").add(3)
        assert provider.force_flush()
    finally:
        provider.shutdown()
        server.shutdown()
    sent = _Collector.received[0]
    names = [m.name for r in sent.resource_metrics for s in r.scope_metrics for m in s.metrics]
    assert "coffre_test_things" in names
    assert "http.server.duration" in names
