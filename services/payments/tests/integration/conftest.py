"""Integration wiring: payments' real app (HTTP + Kafka + Postgres) with the real vault and the
real fraud service in process, and the sandbox bank in process (httpx over ASGI)."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))

from coffre_testing.app import running_app
from coffre_testing.identities import trusted_identities
from coffre_testing.waiting import until
from common.db.database import Database
from common.events import all_topics
from common.events.auth import UserRegistered
from common.messaging.kafka import ensure_topics
from common.security.service_identity import ServiceTokenVerifier
from fraud.entrypoints.app import create_app as create_fraud_app
from fraud.settings import FraudSettings
from payments.app import create_app
from payments.container import Container
from payments.settings import PaymentsSettings
from payments_it_helpers import CREDITOR, AuthTokens, Events
from sandbox_bank.app import create_app as create_sandbox_app
from sandbox_bank.settings import SandboxSettings
from sandbox_bank.testing import sandbox_client
from vault.entrypoints.app import create_app as create_vault_app
from vault.settings import VaultSettings

CALLBACK = "https://app.coffre.test/payments/callback"
T = TypeVar("T")


@pytest.fixture(scope="session")
def tokens() -> AuthTokens:
    return AuthTokens()


@pytest.fixture(scope="session")
def identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trusted_identities(tmp_path_factory.mktemp("payments-identities"), "payments")


@dataclass
class Stack:
    app: FastAPI
    client: httpx.AsyncClient
    bank: httpx.AsyncClient
    bank_app: FastAPI
    tokens: AuthTokens
    vault_app: FastAPI
    fraud_app: FastAPI | None

    @property
    def container(self) -> Container:
        found: Container = self.app.state.container
        return found

    @property
    def db(self) -> Database:
        database: Database = self.app.state.runtime.db
        return database

    def member(self) -> Member:
        return Member(self, str(uuid.uuid4()), str(uuid.uuid4()))

    async def registered(self, bootstrap: str) -> Member:
        """A member auth registered (``UserRegistered`` on the real broker) whom fraud knows."""
        member = self.member()
        async with Events(bootstrap) as events:
            event = UserRegistered(user_id=uuid.UUID(member.user_id), method="password")
            await events.send(event, subject=member.user_id)
        assert self.fraud_app is not None
        fraud_db: Database = self.fraud_app.state.runtime.db
        query = "SELECT count(*) FROM members WHERE owner_ref = $1"
        await eventually(lambda: fraud_db.fetchval(query, member.user_id), lambda n: n == 1)
        return member


@dataclass
class Member:
    stack: Stack
    user_id: str
    session_id: str
    psu_id: str = ""

    def headers(self, **extra: str) -> dict[str, str]:
        token = self.stack.tokens.access(self.user_id, self.session_id)
        return {"Authorization": f"Bearer {token}", **extra}

    async def consent(self, **terms: Any) -> dict[str, Any]:
        """Grant a payment consent on the member's first sandbox account; return it."""
        self.psu_id = self.psu_id or f"psu-{self.user_id[:8]}"
        accounts = await self.stack.bank.get(f"/sandbox/psus/{self.psu_id}/accounts")
        iban = accounts.json()["accounts"][0]["iban"]
        body = {"debtor_iban": iban, "max_amount_per_payment": "500.00",
                "periodic_limit": "2000.00", "psu_id": self.psu_id} | terms  # fmt: skip
        started = await self.stack.client.post(
            "/v1/payment-consents", json=body, headers=self.headers()
        )
        assert started.status_code == 201, started.text
        redirect = httpx.URL(started.json()["redirect_url"])
        sca = await self.stack.bank.get(redirect.path)
        assert sca.status_code == 302, sca.text
        state = httpx.URL(sca.headers["location"]).params["state"]
        done = await self.stack.client.post(
            "/v1/payment-consents/callback", json={"state": state}, headers=self.headers()
        )
        assert done.status_code == 200, done.text
        result: dict[str, Any] = done.json() | {"debtor_iban": iban}
        return result

    async def create(self, consent: dict[str, Any], amount: str = "25.00",
                     key: str | None = None, **changes: Any) -> httpx.Response:  # fmt: skip
        body = {"kind": "payment", "account_ref": consent["account_ref"], "amount": amount,
                "currency": "EUR", "creditor": {"name": "Camille Laurent", "iban": CREDITOR},
                "remittance": "Invoice 42"} | changes  # fmt: skip
        return await self.stack.client.post(
            "/v1/payments", json=body,
            headers=self.headers(**{"Idempotency-Key": key or str(uuid.uuid4())}),
        )  # fmt: skip

    async def authorise(self, created: dict[str, Any], token: str | None = None) -> httpx.Response:
        token = token or self.stack.tokens.stepup(self.user_id, created["operation"])
        return await self.stack.client.post(
            f"/v1/payments/{created['payment_id']}/authorise",
            json={"stepup_token": token}, headers=self.headers(),
        )  # fmt: skip

    async def payment(self, payment_id: str) -> dict[str, Any]:
        found = await self.stack.client.get(f"/v1/payments/{payment_id}", headers=self.headers())
        assert found.status_code == 200, found.text
        body: dict[str, Any] = found.json()
        return body

    async def wait_state(
        self, payment_id: str, *states: str, timeout: float = 30
    ) -> dict[str, Any]:
        return await eventually(lambda: self.payment(payment_id),
                                lambda p: p["state"] in states, timeout)  # fmt: skip


async def eventually(
    probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 30
) -> T:
    """Poll ``probe`` until ``ok`` holds (bounded); fail with the last value otherwise."""
    return await until(probe, ok, timeout)


@contextlib.asynccontextmanager
async def running_stack(
    infra: Any, schema: str, identity_dir: Path, tokens: AuthTokens, tmp_path: Path,
    *, with_fraud: bool = True, sandbox: dict[str, Any] | None = None, **overrides: Any,
) -> AsyncIterator[Stack]:  # fmt: skip
    tag = uuid.uuid4().hex[:8]
    await ensure_topics(infra.bootstrap_servers, all_topics())
    vault_settings: VaultSettings = infra.settings(
        VaultSettings, service_name="vault", schema=f"{schema}_vault",
        service_trust_dir=str(identity_dir / "trust"),
        kms_key_file=str(tmp_path / "kms" / "master.key"),
        anchor_key_file=str(tmp_path / "vault" / "anchor.key"),
        anchor_dir=str(tmp_path / "vault" / "anchors"),
    )  # fmt: skip
    vault_app = create_vault_app(vault_settings, erasure_consumer=f"vault-erasure-{tag}")
    bank_app = create_sandbox_app(SandboxSettings(**(sandbox or {})))
    fraud_app = None
    if with_fraud:
        fraud_settings: FraudSettings = infra.settings(
            FraudSettings, service_name="fraud", schema=f"{schema}_fraud",
            consumer_group_prefix=f"fraud-{tag}", report_check_seconds=3600,
        )  # fmt: skip
        fraud_app = create_fraud_app(
            fraud_settings, access_tokens=tokens.verifier(),
            services=ServiceTokenVerifier.from_folder("fraud", identity_dir / "trust"),
        )  # fmt: skip
    values: dict[str, Any] = {
        "ref_key": "integration-reference-key-0123456789", "bank_base_url": "http://bank.test",
        "bank_timeout_seconds": 2.0, "callback_url": CALLBACK, "vault_url": "http://vault.test",
        "fraud_url": "http://fraud.test", "auth_jwks_json": tokens.jwks_json,
        "service_identity_key_file": str(identity_dir / "payments.key.pem"),
        "worker_interval_seconds": 0.2, "fraud_wait_seconds": 30.0, "submit_lease_seconds": 1.0,
        "poll_base_seconds": 0.2, "poll_cap_seconds": 1.0, "consumer_group_prefix": f"pay-{tag}",
    } | overrides  # fmt: skip
    settings: PaymentsSettings = infra.settings(
        PaymentsSettings, service_name="payments", schema=schema, **values
    )
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running_app(vault_app))
        if fraud_app is not None:
            await stack.enter_async_context(running_app(fraud_app))
        app = create_app(
            settings, observability=False,
            bank_transport=httpx.ASGITransport(app=bank_app),
            vault_transport=httpx.ASGITransport(app=vault_app),
            fraud_transport=httpx.ASGITransport(app=fraud_app or FastAPI()),
        )  # fmt: skip
        client = await stack.enter_async_context(running_app(app))
        bank = await stack.enter_async_context(sandbox_client(bank_app))
        yield Stack(app, client, bank, bank_app, tokens, vault_app, fraud_app)


@pytest_asyncio.fixture
async def stack(
    infra: Any, schema_name: str, identity_dir: Path, tokens: AuthTokens, tmp_path: Path
) -> AsyncIterator[Stack]:
    async with running_stack(infra, schema_name, identity_dir, tokens, tmp_path) as found:
        yield found


@pytest_asyncio.fixture
async def lean_stack(
    infra: Any, schema_name: str, identity_dir: Path, tokens: AuthTokens, tmp_path: Path
) -> AsyncIterator[Stack]:
    """The stack without the fraud service (tests publish fraud's events themselves)."""
    async with running_stack(
        infra, schema_name, identity_dir, tokens, tmp_path, with_fraud=False
    ) as found:
        yield found


# Test modules import this conftest's helpers as `payments_it_conftest`.
sys.modules.setdefault("payments_it_conftest", sys.modules[__name__])
