"""One server span and the RED metrics of every HTTP request, in one pure ASGI middleware.

Rules: the W3C trace context of the request (``traceparent``, ``tracestate``, ``baggage``)
parents the server span, which is current while the app runs, so log lines, child spans and the
events the request records (outbox → Kafka headers) carry its trace; inside an already current
span (an in-process call) the request is an internal child span instead. A span that is not
sampled costs nothing more than its context: attributes are only set on a recording span.
``/health/…`` and ``/metrics`` are neither traced nor measured. Every other request, answered,
refused or crashed, is counted once in ``common.http_metrics`` under its route template (never the
concrete path: no identifier becomes a label), its method (unknown ones as ``_OTHER``) and its
status (500 for an exception that escaped before an answer started). The span carries the path
without the query string, which can hold a code or a token.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common import http_metrics

TRACE_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})
_EMPTY = otel_context.Context()


def excluded(path: str) -> bool:
    """Probes and the scrape are neither traced nor measured."""
    return path.startswith("/health/") or path == "/metrics"


class HttpTelemetry:
    """The outermost ASGI layer of every service app (outside the error middleware, so it sees
    the 500 that middleware answers for a crash)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = trace.get_tracer("coffre.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or excluded(scope["path"]):
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        request = _RequestHeaders(scope["headers"])
        span = self._start_span(scope, request)
        token = otel_context.attach(trace.set_span_in_context(span))
        answer = _Answer(send)
        http_metrics.REQUESTS.started(scope, request.host)
        try:
            await self.app(scope, receive, answer.send)
        except BaseException as exc:
            answer.crashed(span, exc)
            raise
        finally:
            otel_context.detach(token)
            route = _route_template(scope)
            _finish_span(span, scope, route, answer.status)
            http_metrics.REQUESTS.finished(
                scope, request.host, route, answer.status, perf_counter() - started,
                request.length, answer.length,
            )  # fmt: skip

    def _start_span(self, scope: Scope, request: _RequestHeaders) -> trace.Span:
        method = scope["method"]
        if trace.get_current_span().get_span_context().is_valid:
            span = self.tracer.start_span(method, kind=SpanKind.INTERNAL)
        else:
            parent = propagate.extract(request.carrier) if request.carrier else _EMPTY
            span = self.tracer.start_span(method, context=parent, kind=SpanKind.SERVER)
        if span.is_recording():
            span.set_attributes(_request_attributes(scope, request))
        return span


class _RequestHeaders:
    """What the middleware reads from the request headers, in one pass."""

    __slots__ = ("carrier", "host", "length", "user_agent")

    def __init__(self, headers: list[tuple[bytes, bytes]]) -> None:
        self.carrier: dict[str, str] = {}
        self.host = ""
        self.length: int | None = None
        self.user_agent = ""
        for name, value in headers:
            if name == b"host":
                self.host = value.decode("latin-1")
            elif name == b"content-length":
                self.length = int(value) if value.isdigit() else None
            elif name == b"user-agent":
                self.user_agent = value.decode("latin-1")
            elif name in TRACE_HEADERS:
                self.carrier[name.decode()] = value.decode("latin-1")


class _Answer:
    """The status and size of the answer, read as it is sent."""

    __slots__ = ("_send", "length", "status")

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.length: int | None = None

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for name, value in message.get("headers", ()):
                if name == b"content-length":
                    self.length = int(value)
                    break
        await self._send(message)

    def crashed(self, span: trace.Span, exc: BaseException) -> None:
        if not self.status:
            self.status = 500  # what the error middleware answers
        if span.is_recording():
            span.record_exception(exc)


def _route_template(scope: Scope) -> str | None:
    """The matched route's template (``/v1/subjects/{subject}``), or None when nothing matched."""
    path_format = getattr(scope.get("route"), "path_format", None)
    return f"{scope.get('root_path', '')}{path_format}" if path_format else None


def _request_attributes(scope: Scope, request: _RequestHeaders) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "http.method": scope["method"],
        "http.scheme": scope.get("scheme", "http"),
        "http.flavor": scope.get("http_version", "1.1"),
        "http.target": scope["path"],
        "http.host": http_metrics.server_host(scope),
    }
    if request.host:
        attributes["http.server_name"] = request.host
    if request.user_agent:
        attributes["http.user_agent"] = request.user_agent
    client = scope.get("client")
    if client:
        attributes["net.peer.ip"], attributes["net.peer.port"] = client[0], client[1]
    return attributes


def _finish_span(span: trace.Span, scope: Scope, route: str | None, status: int) -> None:
    if span.is_recording():
        if route:
            span.update_name(f"{scope['method']} {route}")
            span.set_attribute("http.route", route)
        if status:
            span.set_attribute("http.status_code", status)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
    span.end()
