"""Connecting a bank by embedded SCA with sealed credentials: active at once, and nothing left
behind (consent at the agent, token in the vault, connection row) when any step fails."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aggregation.adapters.berlin_group import RetryPolicy
from aggregation.adapters.berlin_group_embedded import EmbeddedBerlinGroupAgent
from aggregation.adapters.memory_credentials import InMemoryCredentialVault
from aggregation.domain.credential_errors import CredentialsMissing, CredentialsRejected
from aggregation.service import embedded, teardown
from aggregation.service.credential_ports import EmbeddedConsent
from aggregation.service.embedded import CredentialContext
from aggregation_unit_helpers import AGENT_TIMEOUT, MEMBER_IP, Harness, no_sleep
from common.security.client_encryption import RecipientKey, seal_b64
from sandbox_bank.testing import BASE_URL

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class Embedded:
    def __init__(self, harness: Harness, agent_jwk: dict[str, str]) -> None:
        transport = httpx.ASGITransport(app=harness.sandbox)
        self.agent = EmbeddedBerlinGroupAgent(
            httpx.AsyncClient(transport=transport, base_url=BASE_URL),
            RetryPolicy(attempts=3, base_delay=0.0, timeout=AGENT_TIMEOUT),
            sleep=no_sleep,
        )
        self.vault = InMemoryCredentialVault(RecipientKey.from_jwk(agent_jwk))
        self.creds = CredentialContext(vault=self.vault, agent=self.agent)
        self.tokens: list[str] = []
        create = self.agent.create_embedded_consent

        async def spy(**kwargs: Any) -> EmbeddedConsent:
            consent = await create(**kwargs)
            self.tokens.append(consent.token)
            return consent

        self.agent.create_embedded_consent = spy  # type: ignore[method-assign]


@pytest_asyncio.fixture
async def setup() -> tuple[Harness, Embedded]:
    harness = Harness()
    jwk = (await harness.bank.get("/v1/psu-credentials/keys")).json()["keys"][0]
    return harness, Embedded(harness, jwk)


async def store(harness: Harness, side: Embedded, user: str, password: str | None = None) -> None:
    if password is None:
        password = (await harness.control("GET", f"/sandbox/psus/{user}/credentials"))["password"]
    [key] = await side.vault.public_keys()
    plaintext = json.dumps({"psuId": user, "password": password}).encode()
    sealed = seal_b64(
        plaintext, RecipientKey.from_jwk(key), subject=user, purpose="bank-credentials"
    )
    await embedded.store_credentials(side.creds, user, sealed)


async def consent_status(harness: Harness, token: str) -> str:
    headers = {"X-Request-ID": str(uuid.uuid4())}
    answer = await harness.bank.get(f"/v1/consents/{token}/status", headers=headers)
    status: str = answer.json()["consentStatus"]
    return status


async def test_embedded_connection_is_active_with_its_accounts_at_once(
    setup: tuple[Harness, Embedded],
) -> None:
    harness, side = setup
    user = harness.user()
    await store(harness, side, user)

    view = await embedded.connect_embedded(harness.ctx, side.creds, user, None, MEMBER_IP)

    assert view.connection.is_active
    assert view.accounts
    assert await consent_status(harness, side.tokens[-1]) == "valid"
    assert len(harness.vault.secrets) == 1


async def test_rejected_credentials_end_the_consent_and_leave_nothing_behind(
    setup: tuple[Harness, Embedded],
) -> None:
    harness, side = setup
    user = harness.user()
    await store(harness, side, user, password="wrong")

    with pytest.raises(CredentialsRejected):
        await embedded.connect_embedded(harness.ctx, side.creds, user, None, MEMBER_IP)

    assert await consent_status(harness, side.tokens[-1]) == "terminatedByTpp"
    assert harness.vault.secrets == {}
    async with harness.ctx.uow() as uow:
        assert await uow.connections.of_user(user) == []


async def test_missing_credentials_end_the_consent_and_leave_nothing_behind(
    setup: tuple[Harness, Embedded],
) -> None:
    harness, side = setup
    user = harness.user()

    with pytest.raises(CredentialsMissing):
        await embedded.connect_embedded(harness.ctx, side.creds, user, None, MEMBER_IP)

    assert await consent_status(harness, side.tokens[-1]) == "terminatedByTpp"
    assert harness.vault.secrets == {}


async def test_a_crash_while_authorising_is_cleaned_up_by_the_scheduler(
    setup: tuple[Harness, Embedded], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness, side = setup
    user = harness.user()
    await store(harness, side, user, password="wrong")

    async def died_before_cleanup(*_: Any) -> bool:
        return False

    monkeypatch.setattr(embedded.teardown, "settle", died_before_cleanup)
    with pytest.raises(CredentialsRejected):
        await embedded.connect_embedded(harness.ctx, side.creds, user, None, MEMBER_IP)
    monkeypatch.undo()
    assert len(harness.vault.secrets) == 1
    harness.advance(seconds=harness.ctx.policy.state_ttl.total_seconds() + 1)

    assert await teardown.run_teardowns(harness.ctx) == 1
    assert await consent_status(harness, side.tokens[-1]) == "terminatedByTpp"
    assert harness.vault.secrets == {}


async def test_a_recorded_connection_drops_its_armed_teardown(
    setup: tuple[Harness, Embedded],
) -> None:
    harness, side = setup
    user = harness.user()
    await store(harness, side, user)

    await embedded.connect_embedded(harness.ctx, side.creds, user, None, MEMBER_IP)
    harness.advance(hours=1)

    assert await teardown.run_teardowns(harness.ctx) == 0
    assert await consent_status(harness, side.tokens[-1]) == "valid"
