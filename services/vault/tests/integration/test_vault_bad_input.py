"""The issue's "Bad input" list over real HTTP and Postgres: wrong purpose, unknown or erased
subject, tampered ciphertext, expired grant — each a clear 4xx problem with a stable code, an
audit entry for it, and never the secret's value in the answer or in the audit log."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from common.security import client_encryption as ce
from vault.entrypoints.app import create_app
from vault.service.erasure import erase_subject
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]
VALUE = b"s3cret-consent-token-value"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Vault:
    client: httpx.AsyncClient
    app: object
    settings: VaultSettings
    headers: Headers
    member: str

    async def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.settings.database_url.get_secret_value())
        try:
            await conn.execute(f'SET search_path TO "{self.settings.schema_name}"')
            return await conn.fetch(query, *args)
        finally:
            await conn.close()

    async def put_consent(self, secret_id: str = "c1") -> str:
        url = f"/v1/subjects/{self.member}/secrets/psd2-consent/{secret_id}"
        put = await self.client.put(
            url, json={"value": b64(VALUE)}, headers=self.headers("aggregation")
        )
        assert put.status_code == 200, put.text
        return url


@pytest_asyncio.fixture
async def vault(
    vault_settings: VaultSettings, headers: Headers, member: str
) -> AsyncIterator[Vault]:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        yield Vault(client, app, vault_settings, headers, member)


async def wrong_purpose(v: Vault) -> httpx.Response:
    await v.put_consent()
    return await v.client.get(
        f"/v1/subjects/{v.member}/secrets/bank-credentials/c1", headers=v.headers("aggregation")
    )


async def purpose_nobody_may_use(v: Vault) -> httpx.Response:
    return await v.client.put(
        f"/v1/subjects/{v.member}/secrets/marketing/c1",
        json={"value": b64(VALUE)},
        headers=v.headers("aggregation"),
    )


async def unknown_subject(v: Vault) -> httpx.Response:
    return await v.client.get(
        f"/v1/subjects/never-seen-{v.member}/secrets/psd2-consent/c1",
        headers=v.headers("payments"),
    )


async def erased_subject(v: Vault) -> httpx.Response:
    made = await v.client.post(
        f"/v1/subjects/{v.member}/data-keys",
        json={"purpose": "document"},
        headers=v.headers("archive"),
    )
    assert made.status_code == 201
    await erase_subject(v.app.state.container.ctx, v.member, "req-bad-input")  # type: ignore[attr-defined]
    return await v.client.post(
        f"/v1/subjects/{v.member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": made.json()["wrapped"]},
        headers=v.headers("archive"),
    )


async def tampered_stored_ciphertext(v: Vault) -> httpx.Response:
    url = await v.put_consent()
    await v.sql(
        "UPDATE secrets SET ciphertext = overlay(ciphertext placing"
        " decode(lpad(to_hex(get_byte(ciphertext, 20) # 1), 2, '0'), 'hex') from 21 for 1)"
        " WHERE subject = $1",
        v.member,
    )
    return await v.client.get(url, headers=v.headers("payments"))


async def ciphertext_moved_to_another_record(v: Vault) -> httpx.Response:
    await v.put_consent("c1")
    url = await v.put_consent("c2")
    await v.sql(
        "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE subject = $1"
        " AND secret_id = 'c1') WHERE subject = $1 AND secret_id = 'c2'",
        v.member,
    )
    return await v.client.get(url, headers=v.headers("payments"))


async def expired_grant(v: Vault) -> httpx.Response:
    jwks = (await v.client.get("/v1/public-keys", headers=v.headers("aggregation"))).json()
    recipient = ce.RecipientKey.from_jwk(next(k for k in jwks["keys"] if k["kty"] == "OKP"))
    sealed = ce.seal_b64(VALUE, recipient, subject=v.member, purpose="bank-credentials")
    stored = await v.client.put(
        f"/v1/subjects/{v.member}/secrets/bank-credentials/b1",
        json={"sealed": sealed},
        headers=v.headers("aggregation"),
    )
    assert stored.status_code == 200
    grant = await v.client.post(
        "/v1/grants",
        json={"operator": "alice", "subject": v.member, "purpose": "bank-credentials",
              "secret_id": "b1", "reason": "member asked for help, ticket 7",
              "consent_ref": "consent-7", "ttl_seconds": 60, "max_uses": 3},
        headers=v.headers("backoffice"),
    )  # fmt: skip
    grant_id = grant.json()["grant_id"]
    await v.sql("UPDATE grants SET expires_at = now() WHERE grant_id = $1", uuid.UUID(grant_id))
    return await v.client.post(
        f"/v1/grants/{grant_id}/use", headers=v.headers("backoffice", "alice")
    )


async def unknown_grant(v: Vault) -> httpx.Response:
    return await v.client.post(
        f"/v1/grants/{uuid.uuid4()}/use", headers=v.headers("backoffice", "alice")
    )


CASES: list[tuple[Callable[[Vault], Awaitable[httpx.Response]], int, str, str]] = [
    (wrong_purpose, 403, "vault.policy-denied", "denied"),
    (purpose_nobody_may_use, 403, "vault.policy-denied", "denied"),
    (unknown_subject, 404, "vault.secret-not-found", "failed"),
    (erased_subject, 410, "vault.subject-erased", "failed"),
    (tampered_stored_ciphertext, 422, "vault.ciphertext-invalid", "failed"),
    (ciphertext_moved_to_another_record, 422, "vault.ciphertext-invalid", "failed"),
    (expired_grant, 410, "vault.grant-expired", "failed"),
    (unknown_grant, 404, "vault.grant-not-found", "failed"),
]


@pytest.mark.parametrize(
    ("make", "status", "code", "outcome"), CASES, ids=[c[0].__name__ for c in CASES]
)
async def test_bad_input_is_a_clear_problem_with_an_audit_entry_and_no_value(
    vault: Vault,
    make: Callable[[Vault], Awaitable[httpx.Response]],
    status: int,
    code: str,
    outcome: str,
) -> None:
    response = await make(vault)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"] == code
    assert VALUE.decode() not in response.text
    assert b64(VALUE) not in response.text
    rows = await vault.sql(
        "SELECT actor, outcome, detail::text AS detail FROM audit_log WHERE outcome <> 'allowed'"
        " ORDER BY seq DESC LIMIT 1"
    )
    assert rows, "the refusal was not audited"
    assert rows[0]["outcome"] == outcome
    assert code in rows[0]["detail"]
    everything = await vault.sql("SELECT a::text AS line FROM audit_log a")
    dumped = "\n".join(r["line"] for r in everything)
    assert VALUE.decode() not in dumped
    assert b64(VALUE) not in dumped


async def test_bodies_past_the_limit_are_refused_while_they_stream(vault: Vault) -> None:
    """The unwrap routes read their bodies before the router: a chunked body past the limit is
    cut off there with a 413 problem; the largest valid batch is still read."""

    async def chunks(total: int) -> AsyncIterator[bytes]:
        for _ in range(0, total, 64 * 1024):
            yield b" " * (64 * 1024)

    single = f"/v1/subjects/{vault.member}/data-keys/unwrap"
    for url, total in ((single, 512 * 1024), ("/v1/data-keys/unwrap-batch", 3 * 1024 * 1024)):
        answer = await vault.client.post(
            url, content=chunks(total), headers=vault.headers("archive")
        )
        assert answer.status_code == 413, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.json()["code"] == "request.too-large"
    largest = {
        "batch_input": [
            {"subject": "s" * 128, "purpose": "p" * 64, "wrapped": "w" * 1024} for _ in range(1000)
        ]
    }
    answer = await vault.client.post(
        "/v1/data-keys/unwrap-batch", json=largest, headers=vault.headers("archive")
    )
    assert answer.status_code == 200, answer.text[:500]
    assert len(answer.json()["batch_results"]) == 1000
