"""Integration wiring: the real auth app (real lifespan) on the real Postgres and broker."""

from __future__ import annotations

import secrets
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))

from auth.adapters.mail import RecordingMailer
from auth.adapters.sms import RecordingSmsSender
from auth.bootstrap import Container
from auth.entrypoints.app import create_app
from auth.settings import AuthSettings
from coffre_testing.app import running_app
from coffre_testing.infra import Infra
from coffre_testing.oidc_provider import LocalOidcProvider
from common.runtime import Runtime


@dataclass
class RunningAuth:
    client: httpx.AsyncClient
    sms: RecordingSmsSender
    mailer: RecordingMailer
    container: Container
    settings: AuthSettings
    runtime: Runtime


TEST_PEPPER = secrets.token_urlsafe(32)
TEST_KEK = secrets.token_urlsafe(32)


def auth_settings(infra: Infra, schema: str, **overrides: Any) -> AuthSettings:
    values: dict[str, Any] = {
        "public_base_url": "http://testserver",
        "pepper": TEST_PEPPER,
        "key_encryption_key": TEST_KEK,
        **overrides,
    }
    return infra.settings(AuthSettings, service_name="auth", schema=schema, **values)


@pytest_asyncio.fixture
async def auth(infra: Infra, schema_name: str) -> AsyncIterator[RunningAuth]:
    settings = auth_settings(infra, schema_name)
    sms, mailer = RecordingSmsSender(), RecordingMailer()
    app = create_app(settings, sms=sms, mailer=mailer)
    async with running_app(app) as client:
        yield RunningAuth(client, sms, mailer, app.state.container, settings, app.state.runtime)


@pytest_asyncio.fixture
async def idp() -> AsyncIterator[LocalOidcProvider]:
    """A company's OpenID provider, served over real HTTP on the loopback interface."""
    async with LocalOidcProvider().running() as provider:
        yield provider


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# Test modules import this conftest's helpers as `auth_it_conftest`: a plain `conftest`
# would resolve to whichever service's conftest came first on sys.path.
sys.modules.setdefault("auth_it_conftest", sys.modules[__name__])
