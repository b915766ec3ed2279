"""Unwraps and their audit entries over the real app and Postgres: a batch writes one entry per
key on an unbroken chain, and a key whose entry could not be committed is never answered."""

from __future__ import annotations

import base64
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from fastapi import FastAPI
from vault.domain.audit import AuditEntry, Head
from vault.entrypoints.app import create_app
from vault.service import audit
from vault.settings import VaultSettings
from vault_it_helpers import Headers, app_context, document_key

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@pytest_asyncio.fixture
async def vault(vault_settings: VaultSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        yield app, client


def audit_head(entry: AuditEntry) -> Head:
    return Head(entry.seq, entry.hash)


async def test_a_batch_unwrap_of_many_keys_writes_one_entry_per_key_on_a_chain_that_verifies(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    app, client = vault
    keys = [await document_key(client, headers, f"{member}-{i % 4}") for i in range(40)]
    head = await audit.head(app_context(app))
    items = [(f"{member}-{i % 4}", keys[i % 40]) for i in range(600)]
    response = await client.post(
        "/v1/data-keys/unwrap-batch",
        json={"batch_input": [
            {"subject": s, "purpose": "document", "wrapped": k["wrapped"]} for s, k in items
        ]},
        headers=headers("archive"),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    results = response.json()["batch_results"]
    assert [r["plaintext"] for r in results] == [k["plaintext"] for _, k in items]
    async with app_context(app).uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.action, e.outcome, e.actor) for e in entries] == [
        ("datakey.unwrap", "allowed", "archive")
    ] * 600
    assert Counter(e.ref for e in entries) == {k["document_key_id"]: 15 for k in keys}
    assert [e.seq for e in entries] == list(range(entries[0].seq, entries[0].seq + 600))
    report = await audit.verify(app_context(app))
    assert report.ok, report.problem
    assert report.head == audit_head(entries[-1])


async def _refuse_audit_commits_for(settings: VaultSettings, subject: str) -> None:
    """A deferred trigger that fails the COMMIT of any transaction writing an entry about
    ``subject``: the batch statement itself succeeds, its commit does not."""
    schema = settings.schema_name
    conn = await asyncpg.connect(settings.database_url.get_secret_value())
    try:
        await conn.execute(f"""
            CREATE FUNCTION "{schema}".refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.subject = '{subject}' THEN RAISE EXCEPTION 'no space left on device'; END IF;
              RETURN NULL;
            END $$;
            CREATE CONSTRAINT TRIGGER refuse_commit AFTER INSERT ON "{schema}".audit_log
              DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
              EXECUTE FUNCTION "{schema}".refuse_commit();
        """)  # fmt: skip
    finally:
        await conn.close()


async def test_no_key_is_answered_when_its_audit_entry_fails_to_commit(
    vault: tuple[FastAPI, httpx.AsyncClient],
    headers: Headers,
    member: str,
    vault_settings: VaultSettings,
) -> None:
    app, client = vault
    doomed, fine = (
        await document_key(client, headers, member),
        await document_key(client, headers, f"{member}-ok"),
    )
    await _refuse_audit_commits_for(vault_settings, member)
    head = await audit.head(app_context(app))
    single = await client.post(
        f"/v1/subjects/{member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": doomed["wrapped"]},
        headers=headers("archive"),
    )
    batch = await client.post(
        "/v1/data-keys/unwrap-batch",
        json={"batch_input": [
            {"subject": f"{member}-ok", "purpose": "document", "wrapped": fine["wrapped"]},
            {"subject": member, "purpose": "document", "wrapped": doomed["wrapped"]},
        ]},
        headers=headers("archive"),
    )  # fmt: skip
    for refused in (single, batch):
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "vault.audit-unavailable"
        assert doomed["plaintext"] not in refused.text
        assert fine["plaintext"] not in refused.text
        assert "plaintext" not in refused.text
    async with app_context(app).uow() as uow:
        assert [e async for e in uow.audit.entries(head.seq if head else 0)] == []
    answered = await client.post(
        f"/v1/subjects/{member}-ok/data-keys/unwrap",
        json={"purpose": "document", "wrapped": fine["wrapped"]},
        headers=headers("archive"),
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["plaintext"] == fine["plaintext"]
    assert base64.urlsafe_b64decode(fine["plaintext"] + "=")
    assert (await audit.verify(app_context(app))).ok


async def test_a_batch_mixing_allowed_and_refused_keys_answers_and_audits_each_over_http(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    app, client = vault
    key = await document_key(client, headers, member)
    head = await audit.head(app_context(app))
    items = [
        {"subject": member, "purpose": "document", "wrapped": key["wrapped"]},
        {"subject": member, "purpose": "psd2-consent", "wrapped": key["wrapped"]},
        {"subject": member, "purpose": "document", "wrapped": "!!not base64!!"},
        {"subject": f"{member}-other", "purpose": "document", "wrapped": key["wrapped"]},
        {"subject": member, "purpose": "document", "wrapped": key["wrapped"]},
    ]
    response = await client.post(
        "/v1/data-keys/unwrap-batch", json={"batch_input": items}, headers=headers("archive")
    )
    assert response.status_code == 200, response.text
    results = response.json()["batch_results"]
    assert [r["plaintext"] for r in results] == [
        key["plaintext"],
        None,
        None,
        None,
        key["plaintext"],
    ]
    assert [r["error"] and r["error"]["code"] for r in results] == [
        None, "vault.policy-denied", "vault.ciphertext-invalid", "vault.ciphertext-invalid", None,
    ]  # fmt: skip
    async with app_context(app).uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.outcome, e.detail.get("error")) for e in entries] == [
        ("allowed", None), ("denied", "vault.policy-denied"),
        ("failed", "vault.ciphertext-invalid"), ("failed", "vault.ciphertext-invalid"),
        ("allowed", None),
    ]  # fmt: skip
    assert (await audit.verify(app_context(app))).ok


async def test_a_malformed_batch_is_a_422_problem_and_audited(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers
) -> None:
    app, client = vault
    head = await audit.head(app_context(app))
    response = await client.post(
        "/v1/data-keys/unwrap-batch",
        json={"batch_input": [{"subject": "m", "purpose": "document", "wrapped": 7}]},
        headers=headers("archive"),
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "request.invalid"
    assert [e["field"] for e in problem["errors"]] == ["batch_input.0.wrapped"]
    async with app_context(app).uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.actor, e.action, e.outcome, e.detail) for e in entries if e.actor == "archive"] == [
        ("archive", "POST /v1/data-keys/unwrap-batch", "failed", {"error": "request.invalid"})
    ]
    documented = (await client.get("/openapi.json")).json()["paths"]["/v1/data-keys/unwrap-batch"]
    schema = documented["post"]["requestBody"]["content"]["application/json"]["schema"]
    item = schema["properties"]["batch_input"]["items"]
    assert set(item["properties"]) == {"subject", "purpose", "wrapped"}
    assert item["additionalProperties"] is False
