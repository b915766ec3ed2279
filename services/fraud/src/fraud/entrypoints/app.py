"""The fraud service's FastAPI app: ``create_app(settings=None)`` does no I/O."""

from __future__ import annotations

from common.http import create_service_app
from common.runtime import Runtime
from common.security.access_tokens import AccessTokenVerifier
from common.security.service_identity import ServiceTokenVerifier
from common.settings import load_settings
from fastapi import FastAPI

from fraud.bootstrap import MIGRATIONS, Container
from fraud.entrypoints.consumers import consumers
from fraud.entrypoints.http import router
from fraud.settings import FraudSettings


def create_app(
    settings: FraudSettings | None = None,
    *,
    access_tokens: AccessTokenVerifier | None = None,
    services: ServiceTokenVerifier | None = None,
) -> FastAPI:
    settings = settings or load_settings(FraudSettings)
    container = Container(settings, access_tokens=access_tokens, services=services)
    runtime = Runtime(settings, migrations=MIGRATIONS, register_consumers=consumers(container))
    app = create_service_app(
        settings,
        runtime,
        title="Coffre fraud",
        description="Scores transactions and payments, raises alerts, decides on payments, "
        "and builds members' weekly security reports.",
        routers=[router],
        on_startup=[container.start],
        on_shutdown=[container.stop],
    )
    app.state.container = container
    return app
