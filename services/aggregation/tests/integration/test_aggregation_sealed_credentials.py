"""Sealed bank credentials end to end: the member seals them on the device with the vault's key
(fetched through aggregation), aggregation stores the envelope untouched, the vault re-seals it
for the pinned agent only, and the agent authorises the consent by embedded SCA. Real broker,
Postgres, vault and aggregation apps, and the sandbox bank as its own HTTP server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aggregation.adapters.vault_credentials import HttpCredentialVault
from aggregation_it_conftest import Stack, running_stack
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer
from coffre_testing.app import LogCapture
from common.security.client_encryption import RecipientKey, seal_b64

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def sealed_stack(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
) -> AsyncIterator[tuple[Stack, LogCapture]]:
    agent_keys = (await bank.client.get("/v1/psu-credentials/keys")).json()["keys"]
    capture = LogCapture()
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path,
        log_capture=capture,
        vault_overrides={"agent_keys": json.dumps({"sandbox-bank": agent_keys[0]})},
    ) as stack:  # fmt: skip
        yield stack, capture


async def seal_on_device(stack: Stack, member: str, password: str, subject: str = "") -> str:
    """What the member's app does: fetch the key through aggregation, seal the credentials."""
    answer = await stack.client.get(
        "/v1/bank-credentials/public-key", headers=stack.headers(member)
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["subject"] == member
    hpke = next(k for k in body["keys"] if k["kty"] == "OKP")
    plaintext = json.dumps({"psuId": member, "password": password}).encode()
    return seal_b64(
        plaintext, RecipientKey.from_jwk(hpke), subject=subject or member, purpose=body["purpose"]
    )


async def store(stack: Stack, member: str, sealed: str) -> int:
    answer = await stack.client.put(
        "/v1/bank-credentials", json={"sealed": sealed}, headers=stack.headers(member)
    )
    status: int = answer.status_code
    return status


async def all_rows(db: Any) -> str:
    tables = await db.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
    )
    lines: list[str] = []
    for row in tables:
        dumped = await db.fetch(f'SELECT t::text AS line FROM "{row["table_name"]}" t')
        lines += [r["line"] for r in dumped]
    if any(row["table_name"] == "outbox" for row in tables):
        envelopes = await db.fetch("SELECT convert_from(envelope, 'UTF8') AS e FROM outbox")
        lines += [r["e"] for r in envelopes]
    return "\n".join(lines)


async def test_sealed_credentials_authorise_an_embedded_consent_and_are_never_in_clear(
    sealed_stack: tuple[Stack, LogCapture], bank: Bank, member: str
) -> None:
    stack, capture = sealed_stack
    password = (await bank.control("GET", f"/sandbox/psus/{member}/credentials"))["password"]
    sealed = await seal_on_device(stack, member, password)

    assert await store(stack, member, sealed) == 204
    connected = await stack.client.post(
        "/v1/connections/embedded", json={}, headers=stack.headers(member)
    )
    await stack.container.idle()

    assert connected.status_code == 201, connected.text
    assert connected.json()["status"] == "active"
    assert connected.json()["accounts"]
    token = await stack.token_of(member)
    status = await bank.client.get(
        f"/v1/consents/{token}/status",
        headers={"X-Request-ID": "8c2f5a0e-9a41-4d5e-8d2b-1f3e6c7a9b10"},
    )
    assert status.json()["consentStatus"] == "valid"
    feed, _ = await stack.feed(member)
    assert feed["added"]
    assert await stack.db.fetchval("SELECT count(*) FROM outbox") > 0
    aggregation_rows = await all_rows(stack.db)
    vault_rows = await all_rows(stack.vault_app.state.runtime.db)
    for text in (aggregation_rows, vault_rows, capture.text, connected.text):
        assert password not in text
        assert sealed not in text


async def test_wrong_credentials_are_refused_with_a_problem_and_leave_nothing_behind(
    sealed_stack: tuple[Stack, LogCapture], bank: Bank, member: str
) -> None:
    stack, capture = sealed_stack
    sealed = await seal_on_device(stack, member, "not-my-password")
    assert await store(stack, member, sealed) == 204

    refused = await stack.client.post(
        "/v1/connections/embedded", json={}, headers=stack.headers(member)
    )

    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["code"] == "aggregation.credentials-rejected"
    assert "not-my-password" not in refused.text + capture.text
    listed = await stack.client.get("/v1/connections", headers=stack.headers(member))
    assert listed.json()["connections"] == []
    left = await stack.db.fetchval("SELECT count(*) FROM connections WHERE user_id = $1", member)
    assert left == 0


async def test_credentials_sealed_for_another_member_or_missing_are_clear_problems(
    sealed_stack: tuple[Stack, LogCapture], member: str
) -> None:
    stack, _ = sealed_stack
    for_someone_else = await seal_on_device(stack, member, "pw", subject="someone-else")

    bad_seal = await stack.client.put(
        "/v1/bank-credentials", json={"sealed": for_someone_else}, headers=stack.headers(member)
    )
    not_base64 = await stack.client.put(
        "/v1/bank-credentials", json={"sealed": "not base64!" * 4}, headers=stack.headers(member)
    )
    missing = await stack.client.post(
        "/v1/connections/embedded", json={}, headers=stack.headers(member)
    )

    assert (bad_seal.status_code, bad_seal.json()["code"]) == (
        422,
        "aggregation.credentials-seal-invalid",
    )
    assert not_base64.status_code == 422
    assert (missing.status_code, missing.json()["code"]) == (409, "aggregation.credentials-missing")


async def test_deleted_credentials_can_no_longer_connect(
    sealed_stack: tuple[Stack, LogCapture], bank: Bank, member: str
) -> None:
    stack, _ = sealed_stack
    password = (await bank.control("GET", f"/sandbox/psus/{member}/credentials"))["password"]
    assert await store(stack, member, await seal_on_device(stack, member, password)) == 204

    deleted = await stack.client.delete("/v1/bank-credentials", headers=stack.headers(member))
    again = await stack.client.delete("/v1/bank-credentials", headers=stack.headers(member))
    refused = await stack.client.post(
        "/v1/connections/embedded", json={}, headers=stack.headers(member)
    )

    assert deleted.status_code == 204
    assert (again.status_code, again.json()["code"]) == (409, "aggregation.credentials-missing")
    assert (refused.status_code, refused.json()["code"]) == (409, "aggregation.credentials-missing")


async def test_the_public_key_is_fetched_from_the_vault_once_and_cached(
    sealed_stack: tuple[Stack, LogCapture], member: str
) -> None:
    stack, _ = sealed_stack
    for _ in range(3):
        answer = await stack.client.get(
            "/v1/bank-credentials/public-key", headers=stack.headers(member)
        )
        assert answer.status_code == 200
    anonymous = await stack.client.get("/v1/bank-credentials/public-key")

    vault = stack.container.credentials.vault
    assert isinstance(vault, HttpCredentialVault)
    assert vault.fetches == 1
    assert anonymous.status_code == 401
