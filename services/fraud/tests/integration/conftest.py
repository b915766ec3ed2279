"""Fraud integration wiring: the real app (real lifespan) on the real Postgres and broker."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

sys.path.insert(0, str(Path(__file__).parent))  # tests import fraud_harness (importlib mode)

from coffre_testing.app import running_app
from coffre_testing.infra import Infra
from fastapi import FastAPI
from fraud.bootstrap import Container
from fraud.entrypoints.app import create_app
from fraud.settings import FraudSettings
from fraud_harness import Services, Tokens

ANALYST = "analyst-0001"


@dataclass
class RunningFraud:
    client: httpx.AsyncClient
    app: FastAPI
    settings: FraudSettings
    tokens: Tokens
    services: Services

    @property
    def container(self) -> Container:
        container: Container = self.app.state.container
        return container


@pytest.fixture(scope="session")
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Services:
    return Services(tmp_path_factory.mktemp("identities"))


@pytest.fixture
def fraud_settings(infra: Infra, schema_name: str) -> FraudSettings:
    return infra.settings(
        FraudSettings,
        service_name="fraud",
        schema=schema_name,
        analysts=[ANALYST],
        consumer_group_prefix=f"fraud-{uuid.uuid4().hex[:8]}",
        model_refresh_seconds=0.5,
        report_check_seconds=3600,
        decision_wait_seconds=0.1,  # most tests ask for decisions no event will bring
    )


Starter = Callable[[FraudSettings], AbstractAsyncContextManager[RunningFraud]]


@pytest.fixture
def start_fraud(tokens: Tokens, services: Services) -> Starter:
    def start(settings: FraudSettings) -> AbstractAsyncContextManager[RunningFraud]:
        return _running(settings, tokens, services)

    return start


class _running:
    def __init__(self, settings: FraudSettings, tokens: Tokens, services: Services) -> None:
        self.app = create_app(
            settings, access_tokens=tokens.verifier(), services=services.verifier()
        )
        self.parts = (settings, tokens, services)
        self._cm: Any = None

    async def __aenter__(self) -> RunningFraud:
        self._cm = running_app(self.app)
        client = await self._cm.__aenter__()
        return RunningFraud(client, self.app, *self.parts)

    async def __aexit__(self, *exc: Any) -> None:
        await self._cm.__aexit__(*exc)


@pytest_asyncio.fixture
async def fraud(fraud_settings: FraudSettings, start_fraud: Starter) -> AsyncIterator[RunningFraud]:
    async with start_fraud(fraud_settings) as running:
        yield running


# Test modules import this conftest's helpers as `fraud_it_conftest`: a plain `conftest`
# would resolve to whichever service's conftest came first on sys.path.
sys.modules.setdefault("fraud_it_conftest", sys.modules[__name__])
