"""Garbage over every member route: each request is refused with a 4xx RFC 9457 problem that
has a stable code — never a 500, never an echo of what was sent."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from aggregation_it_conftest import Stack, running_stack
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

ID = "{cid}"
ROUTES: list[tuple[str, str]] = [
    ("POST", "/v1/connections"),
    ("POST", "/v1/connections/callback"),
    ("GET", "/v1/connections"),
    ("GET", f"/v1/connections/{ID}"),
    ("DELETE", f"/v1/connections/{ID}"),
    ("POST", f"/v1/connections/{ID}/refresh"),
    ("GET", "/v1/transactions/sync"),
]
BODY_ROUTES = [r for r in ROUTES if r[0] == "POST"]
ID_ROUTES = [r for r in ROUTES if ID in r[1]]

BAD_AUTH = [
    None,
    "",
    "Bearer",
    "Bearer ",
    "Bearer a.b.c",
    "Bearer " + "A" * 8000,
    "Basic dXNlcjpwYXNz",
    "bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
    "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    "Token ☃",
]
BAD_BODIES: list[dict[str, Any]] = [
    {"content": b"{not json"},
    {"content": b"[]"},
    {"content": b"null"},
    {"content": b'"state"'},
    {"content": b"\xff\xfe\x00garbage"},
    {"content": b'{"state": ' * 200 + b"1" + b"}" * 200},
    {"json": {"state": 12345678901234567890}},
    {"json": {"state": ["a" * 20]}},
    {"json": {"state": "a" * 20, "extra": True}},
    {"json": {"psu_id": {"$ne": None}}},
    {"json": {"psu_id": "x" * 10_000}},
    {"json": {"state": "ab\x00cdefghijklmnopqrstuvwxyz"}},
    {"json": {"state": "../../../../etc/passwd_xxxxxxxx"}},
]
BAD_IDS = [
    "not-a-uuid",
    "1",
    "-1",
    "%00",
    "..%2F..%2Fadmin",
    "x" * 5000,
    "00000000-0000-0000-0000-00000000000g",
    "%F0%9F%92%A9",
    "' OR 1=1 --",
]
BAD_QUERIES: list[dict[str, str]] = [
    {"cursor": "bogus!"},
    {"cursor": "YWdnMTotMQ"},  # agg1:-1
    {"cursor": "YWdnMTo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},  # agg1:999…
    {"cursor": "YWdnMTphYmM"},  # agg1:abc
    {"cursor": "x" * 65},
    {"cursor": "\u2603"},
    {"limit": "0"},
    {"limit": "-5"},
    {"limit": "abc"},
    {"limit": "1" * 40},
    {"limit": "501"},
    {"limit": "1.5"},
]


def _assert_problem(response: Any, sent: str | bytes | None = None) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", response.text[:300]
    body = response.json()
    assert isinstance(body.get("code"), str)
    assert body["code"]
    assert body["status"] == response.status_code
    if isinstance(sent, str) and len(sent) >= 12:
        assert sent not in response.text


async def _call(stack: Stack, method: str, path: str, headers: Any, **kwargs: Any) -> Any:
    return await stack.client.request(method, path, headers=headers, **kwargs)


async def test_every_route_refuses_a_bad_access_token_with_a_problem(stack: Stack) -> None:
    for auth in BAD_AUTH:
        headers = {} if auth is None else {"Authorization": auth.encode()}
        for method, template in ROUTES:
            path = template.format(cid=uuid.uuid4())
            response = await _call(stack, method, path, headers, json={})
            _assert_problem(response)
            assert response.status_code == 401, (auth, method, template, response.text)


async def test_every_route_refuses_garbage_bodies_with_a_problem(stack: Stack, member: str) -> None:
    started = await stack.client.post("/v1/connections", json={}, headers=stack.headers(member))
    cid = started.json()["connection_id"]
    h = stack.headers(member) | {"content-type": "application/json"}
    for method, template in BODY_ROUTES:
        for body in BAD_BODIES:
            if template == "/v1/connections" and "json" in body and "psu_id" not in body["json"]:
                continue  # a body the start route ignores except for unknown fields (below)
            response = await _call(stack, method, template.format(cid=cid), h, **body)
            if template.endswith("/refresh"):
                _assert_problem(response)  # no body expected; pending → 409
                continue
            _assert_problem(response, str(body.get("json", "")))
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        response = await stack.client.post(
            "/v1/connections/callback",
            content=b"state=" + b"a" * 30,
            headers=stack.headers(member) | {"content-type": content_type},
        )
        _assert_problem(response)


async def test_every_route_with_an_id_refuses_garbage_ids_with_a_problem(
    stack: Stack, member: str
) -> None:
    for method, template in ID_ROUTES:
        for bad in BAD_IDS:
            path = template.replace(ID, bad)
            response = await _call(stack, method, path, stack.headers(member))
            _assert_problem(response)


async def test_transaction_sync_refuses_garbage_queries_with_a_problem(
    stack: Stack, member: str
) -> None:
    for params in BAD_QUERIES:
        response = await stack.client.get(
            "/v1/transactions/sync", params=params, headers=stack.headers(member)
        )
        _assert_problem(response)
        assert response.status_code == 422, (params, response.text)


async def test_unknown_methods_and_paths_are_problems_too(stack: Stack, member: str) -> None:
    h = stack.headers(member)
    for method, path in [
        ("PUT", "/v1/connections"),
        ("PATCH", f"/v1/connections/{uuid.uuid4()}"),
        ("DELETE", "/v1/transactions/sync"),
        ("GET", "/v1/connections/callback"),
        ("GET", "/v1/nothing-here"),
        ("GET", "/v1/../../etc/passwd"),
    ]:
        _assert_problem(await _call(stack, method, path, h))


async def test_a_garbage_forwarded_ip_is_a_problem(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
    member: str,
) -> None:
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path,
        member_ip_header="X-Forwarded-For",
    ) as stack:  # fmt: skip
        started = await stack.client.post("/v1/connections", json={}, headers=stack.headers(member))
        state = await stack.bank.approve(started.json()["redirect_url"])
        for forwarded in ("not-an-ip", "999.1.1.1", "127.0.0.1:80", "☃".encode(), "x" * 4000):
            headers = stack.headers(member) | {"X-Forwarded-For": forwarded}
            response = await stack.client.post(
                "/v1/connections/callback", json={"state": state}, headers=headers
            )
            _assert_problem(response)
            assert response.json()["code"] == "aggregation.member-ip-unknown"
        ok = await stack.client.post(
            "/v1/connections/callback",
            json={"state": state},
            headers=stack.headers(member) | {"X-Forwarded-For": "203.0.113.7, 10.0.0.1"},
        )
        assert ok.status_code == 200, ok.text
