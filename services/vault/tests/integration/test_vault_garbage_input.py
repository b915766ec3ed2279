"""Garbage over every vault route, from an identified caller: always a 4xx RFC 9457 problem with
a stable code and ``no-store`` — never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from coffre_testing.app import running_app
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]

Headers = Callable[..., dict[str, str]]
SECRET = "/v1/subjects/{s}/secrets/{p}/{i}"
BAD_NAMES = ["a|b", "x" * 200, "%00", "%ED%A0%80", "%1b[2J", "..", "-lead", "\u2603", "a b"]
GRANT = {
    "operator": "alice", "subject": "m", "purpose": "bank-credentials", "secret_id": "b",
    "reason": "a reason long enough", "consent_ref": "c", "ttl_seconds": 60, "max_uses": 1,
}  # fmt: skip
ITEM = {"subject": "m", "purpose": "document", "wrapped": "AQ"}
BAD_BODIES: list[dict[str, Any]] = [
    {"content": b"{not json"},
    {"content": b"[]"},
    {"content": b"null"},
    {"content": b"\xff\xfe\x00"},
    {"content": b'{"a":' * 300 + b"1" + b"}" * 300},
    {"json": {}},
    {"json": {"value": 1}},
    {"json": {"value": "dA", "sealed": "dA"}},
    {"json": {"value": "", "extra": 1}},
    {"json": {"value": "A" * 200_000}},
    {"json": {"sealed": "AQIA"}},
    {"json": {"sealed": "AQFAeA"}},
    {"json": {"purpose": ["document"]}},
    {"json": {"purpose": "document", "wrapped": "!!"}},
    {"json": {"purpose": "document", "wrapped": "AQ"}},
    {"json": GRANT | {"ttl_seconds": -1}},
    {"json": GRANT | {"operator": "a|b", "max_uses": 0}},
    {"json": GRANT | {"subject": "m\u0000", "reason": "x\u0000" * 20}},
    {"json": GRANT | {"secret_id": "\u0000", "consent_ref": "\u0000"}},
    {"json": {"batch_input": []}},
    {"json": {"batch_input": "AQ"}},
    {"json": {"batch_input": [None]}},
    {"json": {"batch_input": [{"subject": "m", "purpose": "document"}]}},
    {"json": {"batch_input": [ITEM | {"extra": 1}]}},
    {"json": {"batch_input": [ITEM | {"wrapped": "A" * 2000}]}},
    {"json": {"batch_input": [ITEM | {"subject": 7}]}},
    {"json": {"batch_input": [ITEM] * 1001}},
]


def _assert_problem(response: httpx.Response) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"] == "application/problem+json", response.text[:200]
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["code"]


async def test_every_vault_route_answers_garbage_with_a_problem(
    vault_settings: VaultSettings, headers: Headers, member: str
) -> None:
    app = create_app(vault_settings, erasure_consumer=f"vault.erasure.{uuid.uuid4().hex[:8]}")
    async with running_app(app) as client:
        calls: list[tuple[str, str, str, dict[str, Any]]] = []
        for bad in BAD_NAMES:
            for path in (
                SECRET.format(s=bad, p="psd2-consent", i="c1"),
                SECRET.format(s=member, p=bad, i="c1"),
                SECRET.format(s=member, p="psd2-consent", i=bad),
            ):
                calls += [
                    ("aggregation", "GET", path, {}),
                    ("aggregation", "DELETE", path, {}),
                    ("aggregation", "PUT", path, {"json": {"value": "dA"}}),
                ]
            document = {"json": {"purpose": "document"}}
            calls += [
                ("archive", "POST", f"/v1/subjects/{bad}/data-keys", document),
                ("backoffice", "POST", f"/v1/grants/{bad}/use", {}),
                ("backoffice", "POST", f"/v1/grants/{bad}/revoke", {}),
            ]  # fmt: skip
        for body in BAD_BODIES:
            calls += [
                ("aggregation", "PUT", SECRET.format(s=member, p="psd2-consent", i="c1"), body),
                ("aggregation", "PUT", SECRET.format(s=member, p="bank-credentials", i="b"), body),
                ("archive", "POST", f"/v1/subjects/{member}/data-keys", body),
                ("archive", "POST", f"/v1/subjects/{member}/data-keys/unwrap", body),
                ("archive", "POST", "/v1/data-keys/unwrap-batch", body),
                ("backoffice", "POST", "/v1/grants", body),
            ]
        calls += [
            ("aggregation", "PATCH", SECRET.format(s=member, p="psd2-consent", i="c1"), {}),
            ("aggregation", "GET", "/v1/nothing", {}),
            ("aggregation", "POST", "/v1/public-keys", {}),
        ]
        for service, method, path, kwargs in calls:
            extra = {"content-type": "application/json"} if "content" in kwargs else {}
            response = await client.request(
                method, path, headers=headers(service) | extra, **kwargs
            )
            _assert_problem(response)
        bad_operator = headers("backoffice") | {"X-Coffre-Operator": "a|b"}
        _assert_problem(await client.post(f"/v1/grants/{uuid.uuid4()}/use", headers=bad_operator))
