"""OpenTelemetry tracing for every Coffre process.

Rules: one trace follows a request from the HTTP call through the outbox and Kafka into every
consumer. The W3C trace context of the code that records an event is stored with the event, the
outbox relay publishes it in the Kafka headers, and consumers extract and attach it so their
spans and log lines carry the producer's trace id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

_configured = False


def configure_tracing(
    service: str, *, otlp_endpoint: str | None = None, exporter: SpanExporter | None = None
) -> None:
    """Install the SDK tracer provider once per process; export over OTLP when configured."""
    global _configured
    if _configured:
        if exporter is not None:
            provider = trace.get_tracer_provider()
            if isinstance(provider, TracerProvider):
                provider.add_span_processor(BatchSpanProcessor(exporter))
        return
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(exporter))
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_endpoint}/v1/traces"))
        )
    trace.set_tracer_provider(provider)
    _configured = True


def tracer(name: str = "coffre") -> trace.Tracer:
    return trace.get_tracer(name)


def current_trace_carrier() -> dict[str, str]:
    """The W3C trace context of the current span, as a header carrier."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


class _LastCarrier:
    """The carrier of the last context seen: a unit of work recording many events under one
    span injects its context once (the context object is immutable; a new span or any attach
    makes a new one)."""

    context: otel_context.Context | None = None
    carrier: dict[str, str] = {}


def current_trace_carrier_cached() -> dict[str, str]:
    """``current_trace_carrier``, computed once per current context; do not mutate it."""
    context = otel_context.get_current()
    if context is not _LastCarrier.context:
        _LastCarrier.carrier = current_trace_carrier()
        _LastCarrier.context = context
    return _LastCarrier.carrier


def carrier_to_kafka_headers(carrier: Mapping[str, str]) -> list[tuple[str, bytes]]:
    return [(name, value.encode()) for name, value in carrier.items()]


def kafka_headers_to_carrier(headers: Iterable[tuple[str, bytes]] | None) -> dict[str, str]:
    carrier: dict[str, str] = {}
    for name, value in headers or ():
        if name in ("traceparent", "tracestate", "baggage") and value is not None:
            carrier[name] = value.decode("ascii", errors="replace")
    return carrier


def context_from_carrier(carrier: Mapping[str, str]) -> otel_context.Context:
    return propagate.extract(dict(carrier))


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def span_attributes(**attrs: Any) -> dict[str, Any]:
    """Drop None values: OpenTelemetry attributes cannot hold them."""
    return {k: v for k, v in attrs.items() if v is not None}
