"""The unwrap routes' pure-ASGI path (``vault.entrypoints.lean``) over the real app and Postgres:
it answers an admitted request exactly as the FastAPI route does, hands every other request to
that route with the body it sent, keeps permission before validation, and audits every key."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from coffre_testing.app import running_app
from coffre_testing.metrics import scrape
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send
from vault.entrypoints.app import create_app
from vault.entrypoints.lean import LeanUnwraps
from vault.service import audit
from vault.settings import VaultSettings
from vault_it_helpers import Headers, app_context, document_key

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
BATCH = "/v1/data-keys/unwrap-batch"


@pytest_asyncio.fixture
async def vault(vault_settings: VaultSettings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        yield app, client


class _Route:
    """Stands for the FastAPI app behind the lean layer: records what was handed on."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _drive(
    app: FastAPI, route: _Route, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    """One request through ``LeanUnwraps(route)`` alone, the body sent in two chunks."""
    scope: dict[str, Any] = {
        "type": "http", "method": "POST", "path": path, "root_path": "", "app": app,
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "query_string": b"", "http_version": "1.1", "scheme": "http",
    }  # fmt: skip
    chunks = [body[:5], body[5:]]
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": chunks.pop(0), "more_body": bool(chunks)}

    async def send(message: Message) -> None:
        sent.append(message)

    await LeanUnwraps(route)(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def test_an_admitted_unwrap_is_answered_without_the_route_and_a_bad_one_reaches_it_intact(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    app, client = vault
    key = await document_key(client, headers, member)
    route = _Route()
    json_headers = headers("archive") | {"content-type": "application/json"}
    single = json.dumps({"purpose": "document", "wrapped": key["wrapped"]}).encode()
    url = f"/v1/subjects/{member}/data-keys/unwrap"
    status, answer = await _drive(app, route, url, single, json_headers)
    assert (status, route.bodies) == (200, []), answer
    assert json.loads(answer)["plaintext"] == key["plaintext"]
    item = {"subject": member, "purpose": "document", "wrapped": key["wrapped"]}
    batch = json.dumps({"batch_input": [item, item]}).encode()
    status, answer = await _drive(app, route, BATCH, batch, json_headers)
    assert (status, route.bodies) == (200, [])
    assert [r["plaintext"] for r in json.loads(answer)["batch_results"]] == [key["plaintext"]] * 2
    handed_on = [
        (url, b'{"purpose": "document", "wrapped": 7}', json_headers),
        (url, single, json_headers | {"content-type": "text/plain"}),
        (url, single, json_headers | {"x-coffre-operator": "alice"}),
        (url, single, {"content-type": "application/json"}),
        (BATCH, batch, headers("fraud") | {"content-type": "application/json"}),
        (BATCH, b'{"batch_input": []}', json_headers),
    ]
    for path, body, sent_headers in handed_on:
        assert await _drive(app, route, path, body, sent_headers) == (299, b"")
    assert route.bodies == [body for _, body, _ in handed_on]


async def test_the_lean_answer_is_the_routes_answer_byte_for_byte(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    """``application/json`` takes the lean path; ``application/vnd.coffre+json`` (JSON to
    FastAPI, not admitted by the lean layer) goes through the FastAPI route."""
    _, client = vault
    key = await document_key(client, headers, member)
    item = {"subject": member, "purpose": "document", "wrapped": key["wrapped"]}
    bad = item | {"wrapped": "AAAA"}
    url = f"/v1/subjects/{member}/data-keys/unwrap"
    calls = [
        (url, {"purpose": "document", "wrapped": key["wrapped"]}),
        (url, {"purpose": "document", "wrapped": "AAAA"}),
        (BATCH, {"batch_input": [item, bad, item | {"purpose": "psd2-consent"}]}),
    ]  # fmt: skip
    for path, body in calls:
        answers = []
        for content_type in ("application/json", "application/vnd.coffre+json"):
            sent = headers("archive") | {"content-type": content_type}
            answers.append(await client.post(path, content=json.dumps(body), headers=sent))
        lean, routed = answers
        assert (lean.status_code, lean.content) == (routed.status_code, routed.content)
        assert lean.headers.items() == routed.headers.items()
    assert lean.headers["cache-control"] == "no-store"


async def test_a_forbidden_caller_gets_403_before_its_batch_body_is_looked_at(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers
) -> None:
    app, client = vault
    head = await audit.head(app_context(app))
    refused = await client.post(BATCH, content=b'{"batch_input": 7', headers=headers("fraud")
                                | {"content-type": "application/json"})  # fmt: skip
    assert refused.status_code == 403, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "vault.policy-denied"
    async with app_context(app).uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.actor, e.action, e.outcome) for e in entries] == [
        ("fraud", "datakey.unwrap", "denied")
    ]


async def test_bad_input_on_the_unwrap_routes_is_a_problem_with_its_audit_entry(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    app, client = vault
    key = await document_key(client, headers, member)
    url = f"/v1/subjects/{member}/data-keys/unwrap"
    json_headers = headers("archive") | {"content-type": "application/json"}
    cases = [
        (url, b'{"purpose": "document"', json_headers, 422, "request.invalid", "failed"),
        (url, b'{"purpose": "document", "wrapped": "A"}', json_headers, 422, "vault.input-invalid",
         "failed"),
        (url, json.dumps({"purpose": "document", "wrapped": key["wrapped"][:-4]}).encode(),
         json_headers, 422, "vault.ciphertext-invalid", "failed"),
        (url, b"{}", {"content-type": "application/json", "authorization": "Bearer x.y.z"}, 401,
         "vault.identity-missing", "denied"),
        (BATCH, b'{"batch_input": [{"subject": 1}]}', json_headers, 422, "request.invalid",
         "failed"),
    ]  # fmt: skip
    for path, body, sent, status, code, outcome in cases:
        head = await audit.head(app_context(app))
        answer = await client.post(path, content=body, headers=sent)
        assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert key["plaintext"] not in answer.text
        async with app_context(app).uow() as uow:
            entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
        assert [(e.outcome, e.detail.get("error")) for e in entries] == [(outcome, code)]
    assert (await audit.verify(app_context(app))).ok


async def test_lean_answers_are_audited_per_key_and_measured_under_the_route_template(
    vault: tuple[FastAPI, httpx.AsyncClient], headers: Headers, member: str
) -> None:
    app, client = vault
    key = await document_key(client, headers, member)
    before = await scrape(client)
    head = await audit.head(app_context(app))
    url = f"/v1/subjects/{member}/data-keys/unwrap"
    single = {"purpose": "document", "wrapped": key["wrapped"]}
    assert (await client.post(url, json=single, headers=headers("archive"))).status_code == 200
    item = {"subject": member, "purpose": "document", "wrapped": key["wrapped"]}
    batch = {"batch_input": [item] * 3}
    assert (await client.post(BATCH, json=batch, headers=headers("archive"))).status_code == 200
    async with app_context(app).uow() as uow:
        entries = [e async for e in uow.audit.entries(head.seq if head else 0)]
    assert [(e.actor, e.action, e.outcome, e.ref) for e in entries] == [
        ("archive", "datakey.unwrap", "allowed", key["document_key_id"])
    ] * 4
    after = await scrape(client)
    count = "http_server_duration_milliseconds_count"
    for template in ("/v1/subjects/{subject}/data-keys/unwrap", BATCH):
        labels = {"http_target": template, "http_status_code": "200", "http_method": "POST"}
        assert after.since(before, count, **labels) == 1
