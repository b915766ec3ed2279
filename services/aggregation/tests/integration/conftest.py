"""Integration wiring: aggregation's real app (HTTP + Kafka + Postgres), the real vault app in
process, and the sandbox bank as its own HTTP server."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from common.db.database import Database
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))

from aggregation.app import create_app
from aggregation.container import Container
from aggregation.settings import AggregationSettings
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer
from coffre_testing.app import LogCapture, running_app
from coffre_testing.identities import trusted_identities
from coffre_testing.waiting import patient
from common.logging import configure_logging
from vault.entrypoints.app import create_app as create_vault_app
from vault.settings import VaultSettings

CALLBACK = "https://app.coffre.test/bank/callback"


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer.start(page_size="50", fault_delay_seconds="3")
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture(scope="session")
async def bank(sandbox: SandboxServer) -> AsyncIterator[Bank]:
    found = Bank(sandbox.base_url)
    yield found
    await found.client.aclose()


@pytest.fixture(scope="session")
def tokens() -> MemberTokens:
    return MemberTokens()


@pytest.fixture(scope="session")
def identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trusted_identities(tmp_path_factory.mktemp("aggregation-identities"), "aggregation")


@dataclass
class Stack:
    app: FastAPI
    client: httpx.AsyncClient
    settings: AggregationSettings
    vault_client: httpx.AsyncClient
    tokens: MemberTokens
    bank: Bank
    vault_app: FastAPI

    @property
    def container(self) -> Container:
        found: Container = self.app.state.container
        return found

    def headers(self, user_id: str, **kw: Any) -> dict[str, str]:
        return self.tokens.headers(user_id, **kw)

    async def connect(self, user_id: str) -> dict[str, Any]:
        """Start a connection over HTTP, approve it at the bank, call back; return the body."""
        started = await self.client.post("/v1/connections", json={}, headers=self.headers(user_id))
        assert started.status_code == 201, started.text
        state = await self.bank.approve(started.json()["redirect_url"])
        done = await self.client.post(
            "/v1/connections/callback", json={"state": state}, headers=self.headers(user_id)
        )
        assert done.status_code == 200, done.text
        body: dict[str, Any] = done.json()
        return body

    async def feed(
        self, user_id: str, cursor: str | None = None
    ) -> tuple[dict[str, list[Any]], str]:
        """Every change since `cursor`, following pages; returns (changes, last cursor)."""
        changes: dict[str, list[Any]] = {"added": [], "modified": [], "removed": []}
        while True:
            params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
            page = await self.client.get(
                "/v1/transactions/sync", params=params, headers=self.headers(user_id)
            )
            assert page.status_code == 200, page.text
            body = page.json()
            for kind in changes:
                changes[kind] += body[kind]
            cursor = body["next_cursor"]
            if not body["has_more"]:
                return changes, cursor

    async def token_of(self, user_id: str) -> str:
        """The consent token, read from the vault the way aggregation does (for bank checks)."""
        ref = await self.db.fetchval(
            "SELECT vault_ref FROM connections WHERE user_id = $1 AND vault_ref IS NOT NULL "
            "ORDER BY created_at DESC LIMIT 1",
            user_id,
        )
        return await self.container.ctx.vault.read(user_id, ref)

    @property
    def db(self) -> Database:
        database: Database = self.app.state.runtime.db
        return database


# How long aggregation waits for the sandbox bank (its own process): short enough that a "slow"
# fault times out quickly, stretched like every wait on a loaded machine.
AGENT_TIMEOUT = patient(4.0)


def aggregation_settings(
    infra: Any,
    schema: str,
    sandbox: SandboxServer,
    identity_dir: Path,
    tokens: MemberTokens,
    **overrides: Any,
) -> AggregationSettings:
    values: dict[str, Any] = {
        "ref_key": "integration-reference-key-0123456789",
        "agent_base_url": sandbox.base_url,
        "agent_timeout_seconds": AGENT_TIMEOUT,
        "agent_backoff_seconds": 0.05,
        "callback_url": CALLBACK,
        "consent_vault": "http",
        "vault_url": "http://vault.internal",
        "service_identity_key_file": str(identity_dir / "aggregation.key.pem"),
        "auth_jwks_json": tokens.jwks_json,
        "scheduler_enabled": False,
        "member_refresh_interval_seconds": 0,
        "erasure_consumer_group": f"aggregation-erasure-{uuid.uuid4().hex[:8]}",
    } | overrides
    settings: AggregationSettings = infra.settings(
        AggregationSettings, service_name="aggregation", schema=schema, **values
    )
    return settings


@contextlib.asynccontextmanager
async def running_stack(
    infra: Any,
    schema: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
    *,
    container_overrides: dict[str, Any] | None = None,
    log_capture: LogCapture | None = None,
    vault_overrides: dict[str, Any] | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    vault_settings: VaultSettings = infra.settings(
        VaultSettings,
        service_name="vault",
        schema=f"{schema}_vault",
        service_trust_dir=str(identity_dir / "trust"),
        kms_key_file=str(tmp_path / "kms" / "master.key"),
        anchor_key_file=str(tmp_path / "vault" / "anchor.key"),
        anchor_dir=str(tmp_path / "vault" / "anchors"),
        **(vault_overrides or {}),
    )
    vault_app = create_vault_app(
        vault_settings, erasure_consumer=f"vault-erasure-{uuid.uuid4().hex[:8]}"
    )
    settings = aggregation_settings(infra, schema, sandbox, identity_dir, tokens, **overrides)
    async with running_app(vault_app) as vault_client:
        if log_capture is not None:
            configure_logging("aggregation", json=True, stream=log_capture)  # type: ignore[arg-type]
        transport = httpx.ASGITransport(app=vault_app)
        app = create_app(
            settings,
            observability=log_capture is None,
            vault_transport=transport,
            **(container_overrides or {}),
        )
        async with running_app(app) as client:
            yield Stack(app, client, settings, vault_client, tokens, bank, vault_app)


@pytest_asyncio.fixture
async def stack(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
) -> AsyncIterator[Stack]:
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path
    ) as found:
        yield found


@pytest.fixture
def member() -> str:
    return str(uuid.uuid4())


# Test modules import this conftest's helpers as `aggregation_it_conftest`: a plain `conftest`
# would resolve to whichever service's conftest came first on sys.path.
sys.modules.setdefault("aggregation_it_conftest", sys.modules[__name__])
