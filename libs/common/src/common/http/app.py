"""The FastAPI app factory every service uses.

Rules: ``create_service_app`` does no I/O; the lifespan configures logging and tracing, starts
the runtime (pool, migrations, relay, consumers) and stops it cleanly. Every app has
``/health/live`` (the process answers), ``/health/ready`` (Postgres and the broker are
reachable) and ``/metrics`` (Prometheus text: HTTP rate, errors and duration per route, plus
the backbone's and the service's own instruments), problem responses for every error,
documented in its OpenAPI document for every route (``common.http.openapi``), request body
limits (``common.http.limits``: 128 KiB unless the service names others), and one
OpenTelemetry server span per request (``common.http.telemetry``, the outermost ASGI layer;
FastAPI's own per-operation telemetry stays off).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.middleware import Middleware
from starlette.types import ASGIApp

from common.db import MigrationSet
from common.http.limits import BodyLimits, BodySizeLimit
from common.http.openapi import install_problem_documentation
from common.http.problems import install_problem_handlers, problem_response
from common.http.telemetry import HttpTelemetry
from common.logging import configure_logging, get_logger
from common.metrics import PROMETHEUS_CONTENT_TYPE, configure_metrics, prometheus_text
from common.runtime import Runtime
from common.settings import ServiceSettings
from common.tracing import configure_tracing

log = get_logger(__name__)

Hook = Callable[[Runtime], Awaitable[None]]


class ServiceContainer(Protocol):
    """What a service's container offers the app: started after the runtime, stopped before."""

    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self, runtime: Runtime) -> None: ...


C = TypeVar("C", bound=ServiceContainer)


def settle_heap() -> None:
    """Move everything built at start-up (modules, routes, models, pools, caches so far) out of
    the garbage collector's generations: full collections then walk only what requests made,
    instead of the whole start-up heap every time (the objects stay alive, as they would)."""
    gc.collect()
    gc.freeze()


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the service's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


NO_FASTAPI_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False,
                              "operation_spans": False}  # fmt: skip


class ServiceApp(FastAPI):
    """A FastAPI app whose middleware stack, services' own layers included, sits inside
    ``HttpTelemetry`` (so a request those layers refuse is still traced and counted), with the
    body limits (``state.body_limits``) outside every layer the service adds (so a layer that
    reads bodies before the router reads them bounded too)."""

    def build_middleware_stack(self) -> ASGIApp:
        added = self.user_middleware
        limits = Middleware(BodySizeLimit, limits=self.state.body_limits)
        self.user_middleware = [limits, *added]
        try:
            return HttpTelemetry(super().build_middleware_stack())
        finally:
            self.user_middleware = added


def create_service_app(
    settings: ServiceSettings,
    runtime: Runtime,
    *,
    title: str,
    description: str = "",
    routers: Sequence[APIRouter] = (),
    on_startup: Sequence[Hook] = (),
    on_shutdown: Sequence[Hook] = (),
    configure_observability: bool = True,
    body_limits: BodyLimits = BodyLimits(),
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if configure_observability:
            configure_logging(
                settings.service_name, level=settings.log_level, json=settings.log_json
            )
            configure_tracing(
                settings.service_name, otlp_endpoint=settings.otel_exporter_otlp_endpoint
            )
        push = settings.otel_metrics_exporter == "otlp"
        if settings.metrics_enabled:
            configure_metrics(
                settings.service_name,
                otlp_endpoint=settings.otel_exporter_otlp_endpoint if push else None,
            )
        await runtime.start()
        for hook in on_startup:
            await hook(runtime)
        settle_heap()
        log.info("service_started", port=settings.http_port, environment=settings.environment)
        try:
            yield
        finally:
            for hook in on_shutdown:
                await hook(runtime)
            await runtime.stop()
            log.info("service_stopped")

    app = ServiceApp(
        title=title,
        description=description,
        lifespan=lifespan,
        version="1.0.0",
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    app.state.runtime = runtime
    app.state.settings = settings
    app.state.body_limits = body_limits
    install_problem_handlers(app)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"], response_model=None)
    async def ready() -> Any:
        checks = await runtime.readiness()
        if all(checks.values()):
            return {"status": "ready", "checks": checks}
        failing = ", ".join(name for name, ok in checks.items() if not ok)
        return problem_response(
            503, "service.not-ready", "Service not ready", f"unreachable: {failing}", checks=checks
        )

    @app.get("/metrics", include_in_schema=False)
    async def scrape() -> Response:
        """The text is built in a worker thread: its cost grows with every series the process
        holds, and on the event loop it would hold up consumers, lease renewals and Kafka
        responses for as long (seconds on a loaded machine)."""
        text = await asyncio.to_thread(prometheus_text)
        return Response(text, media_type=PROMETHEUS_CONTENT_TYPE)

    for router in routers:
        app.include_router(router)
    install_problem_documentation(app)
    return app


def create_container_app(
    settings: ServiceSettings,
    *,
    migrations: MigrationSet,
    container: Callable[[Runtime], C],
    register_consumers: Callable[[Runtime, C], None],
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    observability: bool = True,
    body_limits: BodyLimits = BodyLimits(),
) -> FastAPI:
    """A service app built around one container (``app.state.container``).

    Rules: nothing is opened here; the container is built with the runtime before either
    starts; the runtime's consumers are registered with it; it starts after the runtime (pool,
    migrations, relay, consumers) and stops before the runtime does.
    """
    built: list[C] = []
    runtime = Runtime(
        settings,
        migrations=migrations,
        register_consumers=lambda rt: register_consumers(rt, built[0]),
    )
    built.append(container(runtime))
    app = create_service_app(
        settings,
        runtime,
        title=title,
        description=description,
        routers=routers,
        on_startup=[built[0].start],
        on_shutdown=[built[0].stop],
        configure_observability=observability,
        body_limits=body_limits,
    )
    app.state.container = built[0]
    return app
