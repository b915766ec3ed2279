"""The auth service's FastAPI app (no I/O at import or construction)."""

from __future__ import annotations

from common.http import create_service_app
from common.runtime import Runtime
from fastapi import FastAPI

from auth.bootstrap import MIGRATIONS, Container
from auth.entrypoints.http import router
from auth.entrypoints.limits import AUTH_BODY_LIMITS
from auth.entrypoints.oidc import oidc_router
from auth.entrypoints.public import dev, public, sso_router
from auth.service.ports import Mailer, SmsSender
from auth.settings import AuthSettings

DESCRIPTION = (
    "Registration, argon2id passwords, TOTP and SMS second factors, step-up with dynamic "
    "linking, sessions and short-lived EdDSA access tokens (JWKS), SAML and OpenID Connect "
    "single sign-on."
)


def create_app(
    settings: AuthSettings | None = None,
    *,
    sms: SmsSender | None = None,
    mailer: Mailer | None = None,
) -> FastAPI:
    settings = settings or AuthSettings()
    runtime = Runtime(settings, migrations=MIGRATIONS)
    container = Container(settings, sms=sms, mailer=mailer)
    app = create_service_app(
        settings,
        runtime,
        title="Coffre auth",
        description=DESCRIPTION,
        routers=[router, public, sso_router, oidc_router, dev],
        on_startup=[container.start],
        on_shutdown=[container.stop],
        body_limits=AUTH_BODY_LIMITS,
    )
    app.state.container = container
    return app
