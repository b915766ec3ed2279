from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from coffre_testing.app import running_app
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events.base import Envelope, decode_envelope
from common.events.erasure import ErasureCompleted, ErasureRequested
from common.security import client_encryption as ce
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest_asyncio.fixture
async def client(vault_settings: VaultSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as http:
        yield http


async def _audit_rows(settings: VaultSettings, *, own: bool = False) -> list[asyncpg.Record]:
    """Audit rows written for callers; with ``own``, the vault's own work (sweeps, erasure) too."""
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        return await conn.fetch(
            "SELECT seq, actor, action, outcome, detail::text AS detail"
            f' FROM "{settings.schema_name}".audit_log'
            " WHERE $1 OR actor <> 'vault' ORDER BY seq",
            own,
        )
    finally:
        await conn.close()


async def test_consent_token_round_trip_over_http(
    client: httpx.AsyncClient, headers: Headers, member: str
) -> None:
    url = f"/v1/subjects/{member}/secrets/psd2-consent/consent-1"
    put = await client.put(
        url, json={"value": b64(b"bank-consent-token")}, headers=headers("aggregation")
    )
    assert put.status_code == 200, put.text
    assert put.headers["cache-control"] == "no-store"
    got = await client.get(url, headers=headers("payments"))
    assert got.status_code == 200
    assert unb64(got.json()["value"]) == b"bank-consent-token"


@pytest.mark.parametrize(
    "auth",
    [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
)
async def test_call_without_identity_is_401_and_audited(
    client: httpx.AsyncClient, vault_settings: VaultSettings, member: str, auth: str | None
) -> None:
    headers = {"Authorization": auth} if auth else {}
    response = await client.get(f"/v1/subjects/{member}/secrets/psd2-consent/c1", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "vault.identity-missing"
    last = (await _audit_rows(vault_settings))[-1]
    assert (last["actor"], last["outcome"]) == ("anonymous", "denied")
    assert last["action"] == "GET /v1/subjects/{subject}/secrets/{purpose}/{secret_id}"
    assert member not in last["detail"]


async def test_untrusted_or_misaddressed_tokens_are_401(
    client: httpx.AsyncClient, headers: Headers
) -> None:
    for bad in (headers("intruder"), headers("aggregation", audience="payments")):
        response = await client.get("/v1/public-keys", headers=bad)
        assert response.status_code == 401


async def test_policy_refusal_is_403_with_a_stable_code(
    client: httpx.AsyncClient, headers: Headers, member: str, vault_settings: VaultSettings
) -> None:
    url = f"/v1/subjects/{member}/secrets/psd2-consent/consent-1"
    response = await client.put(url, json={"value": b64(b"t")}, headers=headers("payments"))
    assert response.status_code == 403
    assert response.json()["code"] == "vault.policy-denied"
    response = await client.get(url, headers=headers("fraud"))
    assert response.status_code == 403
    last = (await _audit_rows(vault_settings))[-1]
    assert (last["actor"], last["action"], last["outcome"]) == ("fraud", "secret.read", "denied")


@pytest.mark.parametrize("body", [{}, {"operator": "alice", "ttl_seconds": 10**9}])
async def test_grant_request_from_a_forbidden_caller_is_403_before_its_body_is_read(
    client: httpx.AsyncClient,
    headers: Headers,
    vault_settings: VaultSettings,
    body: dict[str, object],
) -> None:
    response = await client.post("/v1/grants", json=body, headers=headers("payments"))
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "vault.policy-denied"
    last = (await _audit_rows(vault_settings))[-1]
    assert (last["actor"], last["action"], last["outcome"]) == (
        "payments",
        "grant.request",
        "denied",
    )
    allowed = await client.post("/v1/grants", json=body, headers=headers("backoffice", "alice"))
    assert allowed.status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/v1/subjects/{m}/secrets/psd2-consent/c1", {"value": "***"}, "vault.input-invalid"),
        ("/v1/subjects/{m}/secrets/psd2-consent/c1", {"valeur": "x"}, "request.invalid"),
        ("/v1/subjects/{m}/secrets/PSD2/c1", {"value": "dA"}, "vault.name-invalid"),
        ("/v1/subjects/{m}/secrets/bank-credentials/b1", {"value": "dA"}, "vault.seal-required"),
        (
            "/v1/subjects/{m}/secrets/bank-credentials/b1",
            {"sealed": "AQEB"},
            "vault.ciphertext-invalid",
        ),
    ],
)
async def test_bad_input_is_a_4xx_problem_and_audited(
    client: httpx.AsyncClient,
    headers: Headers,
    member: str,
    vault_settings: VaultSettings,
    path: str,
    body: dict[str, str],
    code: str,
) -> None:
    response = await client.put(path.format(m=member), json=body, headers=headers("aggregation"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == code
    last = (await _audit_rows(vault_settings))[-1]
    assert (last["actor"], last["outcome"]) == ("aggregation", "failed")
    assert code in last["detail"] or last["detail"] == '{"error": "request.invalid"}'


async def test_sealed_credentials_and_an_operator_grant(
    client: httpx.AsyncClient, headers: Headers, member: str
) -> None:
    jwks = (await client.get("/v1/public-keys", headers=headers("aggregation"))).json()["keys"]
    assert {k["alg"] for k in jwks} == {"HPKE-Base-X25519-SHA256-A256GCM", "RSA-OAEP-256+A256GCM"}
    recipient = ce.RecipientKey.from_jwk(next(k for k in jwks if k["kty"] == "OKP"))
    sealed = ce.seal_b64(b"login:secret", recipient, subject=member, purpose="bank-credentials")
    url = f"/v1/subjects/{member}/secrets/bank-credentials/bank-1"
    assert (
        await client.put(url, json={"sealed": sealed}, headers=headers("aggregation"))
    ).status_code == 200
    assert (await client.get(url, headers=headers("aggregation"))).status_code == 403
    grant = await client.post(
        "/v1/grants",
        json={"operator": "alice", "subject": member, "purpose": "bank-credentials",
              "secret_id": "bank-1", "reason": "member asked for help, ticket 42",
              "consent_ref": "consent-42", "ttl_seconds": 600, "max_uses": 1},
        headers=headers("backoffice"),
    )  # fmt: skip
    assert grant.status_code == 201, grant.text
    grant_id = grant.json()["grant_id"]
    use_url = f"/v1/grants/{grant_id}/use"
    assert (await client.post(use_url, headers=headers("backoffice", "bob"))).status_code == 403
    used = await client.post(use_url, headers=headers("backoffice", "alice"))
    assert used.status_code == 200
    assert unb64(used.json()["value"]) == b"login:secret"
    again = await client.post(use_url, headers=headers("backoffice", "alice"))
    assert again.status_code == 410
    assert again.json()["code"] == "vault.grant-exhausted"


async def test_expired_grant_copy_is_deleted_by_the_sweeper(
    client: httpx.AsyncClient, headers: Headers, member: str, vault_settings: VaultSettings
) -> None:
    jwks = (await client.get("/v1/public-keys", headers=headers("aggregation"))).json()["keys"]
    recipient = ce.RecipientKey.from_jwk(next(k for k in jwks if k["kty"] == "RSA"))
    sealed = ce.seal_b64(b"creds", recipient, subject=member, purpose="bank-credentials")
    await client.put(
        f"/v1/subjects/{member}/secrets/bank-credentials/b1", json={"sealed": sealed},
        headers=headers("aggregation"),
    )  # fmt: skip
    grant = await client.post(
        "/v1/grants",
        json={"operator": "alice", "subject": member, "purpose": "bank-credentials",
              "secret_id": "b1", "reason": "short-lived access for a test", "consent_ref": "c-1",
              "ttl_seconds": 30, "max_uses": 3},
        headers=headers("backoffice"),
    )  # fmt: skip
    grant_id = grant.json()["grant_id"]
    conn = await asyncpg.connect(vault_settings.database_url.get_secret_value())
    try:
        table = f'"{vault_settings.schema_name}".grants'
        await conn.execute(
            f"UPDATE {table} SET expires_at = now() WHERE grant_id = $1", uuid.UUID(grant_id)
        )
        for _ in range(50):
            row = await conn.fetchrow(
                f"SELECT copy, end_reason FROM {table} WHERE grant_id = $1", uuid.UUID(grant_id)
            )
            if row["end_reason"]:
                break
            await asyncio.sleep(0.1)
        assert row["copy"] is None
        assert row["end_reason"] == "expired"
    finally:
        await conn.close()
    response = await client.post(
        f"/v1/grants/{grant_id}/use", headers=headers("backoffice", "alice")
    )
    assert response.status_code == 410
    assert response.json()["code"] == "vault.grant-expired"


async def test_document_keys_over_http(
    client: httpx.AsyncClient, headers: Headers, member: str
) -> None:
    made = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    assert made.status_code == 201
    body = made.json()
    unwrapped = await client.post(
        f"/v1/subjects/{member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": body["wrapped"]},
        headers=headers("archive"),
    )
    assert unwrapped.status_code == 200
    assert unwrapped.json()["plaintext"] == body["plaintext"]
    tampered = body["wrapped"][:-2] + ("AA" if body["wrapped"][-2:] != "AA" else "BB")
    bad = await client.post(
        f"/v1/subjects/{member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": tampered},
        headers=headers("archive"),
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "vault.ciphertext-invalid"


async def test_erasure_requested_holds_consents_for_aggregation_then_publishes_proof(
    client: httpx.AsyncClient,
    headers: Headers,
    member: str,
    vault_settings: VaultSettings,
) -> None:
    """Everything is shredded at once but the consent token, which only aggregation may still
    read (to end the consent at the bank) and delete; its deletion completes the erasure."""
    url = f"/v1/subjects/{member}/secrets/psd2-consent/consent-1"
    stored = await client.put(url, json={"value": b64(b"token")}, headers=headers("aggregation"))
    key_id = stored.json()["key_id"]
    document = await client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    request_id = f"req-{uuid.uuid4().hex[:8]}"
    envelope = Envelope.wrap(
        ErasureRequested(user_id=member, requested_at=datetime.now(UTC), request_id=request_id),
        producer="auth",
        subject=member,
    )
    producer = AIOKafkaProducer(bootstrap_servers=vault_settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(envelope.topic, envelope.to_bytes(), key=member.encode())
    finally:
        await producer.stop()

    async def refused_to_payments() -> bool:
        return (await client.get(url, headers=headers("payments"))).status_code == 410

    await eventually(refused_to_payments)
    unwrap = await client.post(
        f"/v1/subjects/{member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": document.json()["wrapped"]},
        headers=headers("archive"),
    )
    assert (unwrap.status_code, unwrap.json()["code"]) == (410, "vault.subject-erased")
    held = await client.get(url, headers=headers("aggregation"))
    assert held.status_code == 200
    assert unb64(held.json()["value"]) == b"token"
    early = await collect(
        vault_settings.kafka_bootstrap_servers, ErasureCompleted.topic(), count=1, timeout=2,
        where=lambda r: member.encode() in (r.value or b""),
    )  # fmt: skip
    assert early == []
    assert (await client.delete(url, headers=headers("aggregation"))).status_code == 204
    records = await collect(
        vault_settings.kafka_bootstrap_servers,
        ErasureCompleted.topic(),
        count=1,
        timeout=30,
        where=lambda r: member.encode() in (r.value or b""),
    )
    assert len(records) == 1
    completed = decode_envelope(records[0].value).parse()
    assert isinstance(completed, ErasureCompleted)
    assert completed.service == "vault"
    assert completed.request_id == request_id
    assert completed.proof["released"] == "consents-revoked"
    destroyed = completed.proof["destroyed_key_ids"]
    assert isinstance(destroyed, list)
    assert key_id in destroyed
    assert len(destroyed) == 2
    rows = await _audit_rows(vault_settings, own=True)
    erasure = next(r for r in rows if r["seq"] == completed.proof["audit_seq"])
    assert erasure["action"] == "erasure"
    assert [r["action"] for r in rows].count("erasure.hold") == 1
    for caller in ("aggregation", "payments"):
        gone = await client.get(url, headers=headers(caller))
        assert gone.status_code == 410
        assert gone.json()["code"] == "vault.subject-erased"
