"""Two vault replicas on one database: one audit chain, an erasure on one replica stops unwraps
from the other's cache at once (its very next call, no waiting), batch unwraps, and the signed
anchors of the audit head (file and event)."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from coffre_testing.kafka import collect
from common.events.base import decode_envelope
from common.events.vault import AuditAnchored
from fastapi import FastAPI
from vault.adapters.anchors import FileAnchorStore, load_anchor_public_key, public_key_file
from vault.domain.anchor import Checkpoint
from vault.entrypoints.app import create_app
from vault.service import audit
from vault.service.context import VaultContext
from vault.service.erasure import erase_subject
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]


@dataclass
class Replica:
    app: FastAPI
    client: httpx.AsyncClient

    @property
    def ctx(self) -> VaultContext:
        ctx: VaultContext = self.app.state.container.ctx
        return ctx


@pytest_asyncio.fixture
async def replicas(vault_settings: VaultSettings) -> AsyncIterator[tuple[Replica, Replica]]:
    first = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    second = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(first) as a, running_app(second) as b:
        yield Replica(first, a), Replica(second, b)


async def _document_key(replica: Replica, headers: Headers, member: str) -> str:
    made = await replica.client.post(
        f"/v1/subjects/{member}/data-keys", json={"purpose": "document"}, headers=headers("archive")
    )
    assert made.status_code == 201, made.text
    wrapped: str = made.json()["wrapped"]
    return wrapped


async def _unwrap(replica: Replica, headers: Headers, member: str, wrapped: str) -> httpx.Response:
    return await replica.client.post(
        f"/v1/subjects/{member}/data-keys/unwrap",
        json={"purpose": "document", "wrapped": wrapped},
        headers=headers("archive"),
    )


async def test_erasure_on_one_replica_refuses_the_next_unwrap_from_another_replicas_cache(
    replicas: tuple[Replica, Replica], headers: Headers, member: str
) -> None:
    a, b = replicas
    wrapped = await _document_key(a, headers, member)
    assert (await _unwrap(a, headers, member, wrapped)).status_code == 200
    assert a.ctx.subjects.get(member) is not None, "replica a serves this member from its cache"
    await erase_subject(b.ctx, member, "req-replicas")
    refused = await _unwrap(a, headers, member, wrapped)
    assert refused.status_code == 410
    assert refused.json()["code"] == "vault.subject-erased"
    assert "plaintext" not in refused.text
    report = await audit.verify(a.ctx)
    assert report.ok


async def test_two_replicas_appending_at_once_keep_one_chain_with_one_leader(
    replicas: tuple[Replica, Replica], headers: Headers, member: str
) -> None:
    a, b = replicas
    wrapped = await _document_key(a, headers, member)
    calls = [_unwrap(r, headers, member, wrapped) for _ in range(40) for r in (a, b)]
    answers = await asyncio.gather(*calls)
    assert [r.status_code for r in answers] == [200] * 80
    plaintexts = {r.json()["plaintext"] for r in answers}
    assert len(plaintexts) == 1
    leaders = [r.ctx.appender.writer.leading for r in (a, b)]  # type: ignore[attr-defined]
    assert sorted(leaders) == [False, True]
    report = await audit.verify(b.ctx)
    assert report.ok
    assert report.head is not None
    assert report.checked == report.head.seq


async def test_batch_unwrap_answers_each_item_and_audits_each(
    replicas: tuple[Replica, Replica], headers: Headers, member: str
) -> None:
    a, _ = replicas
    wrapped = await _document_key(a, headers, member)
    other = f"{member}-x"
    batch = [
        {"subject": member, "purpose": "document", "wrapped": wrapped},
        {"subject": other, "purpose": "document", "wrapped": wrapped},
        {"subject": member, "purpose": "psd2-consent", "wrapped": wrapped},
        {"subject": member, "purpose": "document", "wrapped": "***"},
        {"subject": member, "purpose": "document", "wrapped": wrapped},
    ]
    head = await audit.head(a.ctx)
    response = await a.client.post(
        "/v1/data-keys/unwrap-batch", json={"batch_input": batch}, headers=headers("archive")
    )
    assert response.status_code == 200, response.text
    results = response.json()["batch_results"]
    codes = [(r["error"] or {}).get("code") for r in results]
    assert codes == [
        None,
        "vault.ciphertext-invalid",
        "vault.policy-denied",
        "vault.ciphertext-invalid",
        None,
    ]
    assert results[0]["plaintext"] == results[4]["plaintext"]
    assert base64.urlsafe_b64decode(results[0]["plaintext"] + "=")
    async with a.ctx.uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.outcome, e.subject) for e in entries] == [
        ("allowed", member),
        ("failed", other),
        ("denied", member),
        ("failed", member),
        ("allowed", member),
    ]


async def test_batch_unwrap_from_a_service_that_may_not_unwrap_is_403_before_its_body_is_read(
    replicas: tuple[Replica, Replica], headers: Headers
) -> None:
    a, _ = replicas
    response = await a.client.post(
        "/v1/data-keys/unwrap-batch", json={"batch_input": []}, headers=headers("payments")
    )
    assert response.status_code == 403
    assert response.json()["code"] == "vault.policy-denied"
    too_many = [{"subject": "m", "purpose": "document", "wrapped": "AA"}] * 1001
    response = await a.client.post(
        "/v1/data-keys/unwrap-batch", json={"batch_input": too_many}, headers=headers("archive")
    )
    assert response.status_code == 422


async def test_the_running_vault_anchors_its_head_in_a_signed_file_and_an_event(
    replicas: tuple[Replica, Replica],
    headers: Headers,
    member: str,
    vault_settings: VaultSettings,
    infra: object,
) -> None:
    a, _ = replicas
    await _document_key(a, headers, member)
    container = a.app.state.container
    checkpoint = await container.anchor_now()
    assert checkpoint is not None
    assert await container.anchor_now() is None, "an unmoved head is not anchored again"
    public_key = load_anchor_public_key(public_key_file(vault_settings.anchor_key_file))
    saved, rejected = FileAnchorStore(vault_settings.anchor_dir).latest(public_key)
    assert (saved, rejected) == (checkpoint, [])
    records = await collect(
        infra.bootstrap_servers,  # type: ignore[attr-defined]
        "vault.audit-anchored.v1",
        count=1,
        where=lambda r: decode_envelope(r.value).payload.get("hash") == checkpoint.hash,
    )
    event = decode_envelope(records[0].value).parse()
    assert isinstance(event, AuditAnchored)
    published = Checkpoint(event.seq, event.hash, event.anchored_at, event.key_id, event.signature)
    assert published.verifies(public_key)
