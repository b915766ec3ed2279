"""Re-sealing over HTTP: only aggregation, only for a pinned agent, audited, and the answer is
an envelope only the agent opens (real Postgres, the vault app)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from common.security import client_encryption as ce
from cryptography.hazmat.primitives.asymmetric import x25519
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]


@dataclass
class Agent:
    private: x25519.X25519PrivateKey
    kid: str = "agent-x25519-test"


@pytest.fixture
def agent() -> Agent:
    return Agent(x25519.X25519PrivateKey.generate())


@pytest_asyncio.fixture
async def client(vault_settings: VaultSettings, agent: Agent) -> AsyncIterator[httpx.AsyncClient]:
    pin = ce.RecipientKey(agent.kid, agent.private.public_key()).to_jwk()
    settings = vault_settings.model_copy(update={"agent_keys": json.dumps({"sandbox-bank": pin})})
    app = create_app(settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as http:
        yield http


async def test_only_aggregation_reseals_stored_credentials_for_the_pinned_agent(
    client: httpx.AsyncClient,
    headers: Headers,
    member: str,
    agent: Agent,
    vault_settings: VaultSettings,
) -> None:
    keys = (await client.get("/v1/public-keys", headers=headers("aggregation"))).json()["keys"]
    recipient = ce.RecipientKey.from_jwk(next(k for k in keys if k["kty"] == "OKP"))
    sealed = ce.seal_b64(b"login:secret", recipient, subject=member, purpose="bank-credentials")
    url = f"/v1/subjects/{member}/secrets/bank-credentials/psd2-agent"
    put = await client.put(url, json={"sealed": sealed}, headers=headers("aggregation"))
    body = {"agent": "sandbox-bank", "bind": "authorisation-1"}

    resealed = await client.post(url + "/reseal", json=body, headers=headers("aggregation"))
    by_payments = await client.post(url + "/reseal", json=body, headers=headers("payments"))
    anonymous = await client.post(url + "/reseal", json=body)
    rogue = await client.post(
        url + "/reseal", json={**body, "agent": "rogue"}, headers=headers("aggregation")
    )
    read = await client.get(url, headers=headers("aggregation"))

    assert put.status_code == 200
    assert resealed.status_code == 200, resealed.text
    assert resealed.json()["kid"] == agent.kid
    envelope = base64.urlsafe_b64decode(resealed.json()["sealed"] + "==")
    opened = ce.open_sealed(
        envelope, agent.private, subject="authorisation-1", purpose="bank-credentials"
    )
    assert opened == b"login:secret"
    assert (by_payments.status_code, by_payments.json()["code"]) == (403, "vault.policy-denied")
    assert anonymous.status_code == 401
    assert (rogue.status_code, rogue.json()["code"]) == (422, "vault.input-invalid")
    assert read.status_code == 403
    conn = await asyncpg.connect(vault_settings.database_url.get_secret_value())
    try:
        rows = await conn.fetch(
            f'SELECT actor, outcome, detail::text AS detail FROM "{vault_settings.schema_name}"'
            ".audit_log WHERE action = 'secret.reseal' ORDER BY seq"
        )
    finally:
        await conn.close()
    assert [(r["actor"], r["outcome"]) for r in rows] == [
        ("aggregation", "allowed"),
        ("payments", "denied"),
        ("aggregation", "failed"),
    ]
    assert "authorisation-1" not in str(rows)
    assert "login:secret" not in str(rows)
