"""The vault's FastAPI app (no I/O at import or construction). Internal only: never routed from
the public gateway; the Kubernetes NetworkPolicy admits only the services in the policy."""

from __future__ import annotations

from common.errors import ValidationFailed
from common.http import create_service_app
from common.http.limits import BodyLimits
from common.http.problems import validation_problem
from common.runtime import Runtime
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vault.container import Container, migrations
from vault.entrypoints.consumers import ERASURE_CONSUMER, registrar
from vault.entrypoints.deps import audit_failure
from vault.entrypoints.http import router
from vault.entrypoints.lean import LeanUnwraps
from vault.service.ports import Kms
from vault.settings import VaultSettings

BODY_LIMITS = BodyLimits(256 * 1024, {"/data-keys/unwrap-batch": 2 * 1024 * 1024})
"""256 KiB per request (a secret's value is at most 96 KiB of base64url), 2 MiB for a batch
unwrap (at most 1,000 items of at most ~1.3 kB each)."""

DESCRIPTION = (
    "Envelope encryption (AES-256-GCM data keys per member, versioned master keys wrapped by a "
    "KMS), secrets by purpose, document data keys, client-side sealing keys, time-boxed operator "
    "grants, rotation without re-encryption, crypto-shredding and a hash-chained audit log."
)


def create_app(
    settings: VaultSettings | None = None,
    *,
    kms: Kms | None = None,
    erasure_consumer: str = ERASURE_CONSUMER,
) -> FastAPI:
    settings = settings or VaultSettings()
    holder: dict[str, Container] = {}
    runtime = Runtime(
        settings,
        migrations=migrations(),
        register_consumers=registrar(lambda: holder["container"].ctx, erasure_consumer),
    )
    container = holder["container"] = Container(settings, runtime, kms=kms)
    app = create_service_app(
        settings,
        runtime,
        title="Coffre vault",
        description=DESCRIPTION,
        routers=[router],
        on_startup=[container.start],
        on_shutdown=[container.stop],
        body_limits=BODY_LIMITS,
    )
    app.state.container = container
    app.add_exception_handler(RequestValidationError, _audited_validation_error)
    app.add_middleware(LeanUnwraps)  # inside _NoStore: its answers get the header too
    app.add_middleware(_NoStore)
    return app


async def _audited_validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Malformed requests are refused with 422 like everywhere, and audited like every refusal."""
    assert isinstance(exc, RequestValidationError)
    await audit_failure(request, ValidationFailed())
    return validation_problem(request, exc)


class _NoStore:
    """Every vault response is ``Cache-Control: no-store``: secrets never sit in a cache."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", []).append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_header)


__all__ = ["Runtime", "create_app"]
