"""Every error is an RFC 9457 problem response; nothing leaks, nothing is a bare 500."""

from __future__ import annotations

import httpx
import pytest
from common.errors import Conflict, TooManyRequests, Unauthenticated
from common.http.problems import install_problem_handlers
from common.security.access_tokens import ExpiredToken, InsufficientScope, bearer_token
from fastapi import FastAPI, Header, HTTPException
from pydantic import BaseModel, Field

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class Body(BaseModel):
    password: str = Field(min_length=12)
    amount: int


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def things(body: Body) -> dict[str, str]:
        raise Conflict("that thing exists already")

    @app.get("/slow-down")
    async def slow() -> None:
        raise TooManyRequests("too many attempts", retry_after=30)

    @app.get("/bearer")
    async def bearer(authorization: str | None = Header(None)) -> None:
        bearer_token(authorization)
        raise ExpiredToken()

    @app.get("/password")
    async def password() -> None:
        raise Unauthenticated("wrong password")

    @app.get("/scope")
    async def scope() -> None:
        raise InsufficientScope()

    @app.get("/starlette-401")
    async def starlette_401() -> None:
        raise HTTPException(401, "who are you")

    @app.get("/crash")
    async def crash() -> None:
        raise RuntimeError("db password=hunter2 leaked?")

    return app


async def _client() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_domain_error_becomes_a_problem_with_a_stable_code() -> None:
    async with await _client() as client:
        r = await client.post("/things", json={"password": "x" * 12, "amount": 1})
    assert r.status_code == 409
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "resource.conflict"
    assert r.json()["detail"] == "that thing exists already"


async def test_validation_error_names_fields_but_never_echoes_values() -> None:
    async with await _client() as client:
        r = await client.post("/things", json={"password": "short-pw", "amount": "many"})
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"password", "amount"}
    assert "short-pw" not in r.text


async def test_malformed_json_is_a_4xx_problem() -> None:
    async with await _client() as client:
        r = await client.post(
            "/things", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"


async def test_rate_limit_carries_retry_after() -> None:
    async with await _client() as client:
        r = await client.get("/slow-down")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "30"


async def test_unknown_route_is_a_404_problem() -> None:
    async with await _client() as client:
        r = await client.get("/nowhere")
    assert r.status_code == 404
    assert r.json()["code"] == "resource.not-found"


async def test_unexpected_error_reveals_nothing() -> None:
    async with await _client() as client:
        r = await client.get("/crash")
    assert r.status_code == 500
    assert "hunter2" not in r.text
    assert "Traceback" not in r.text


async def test_every_401_carries_a_bearer_challenge() -> None:
    async with await _client() as client:
        answers = [await client.get(p) for p in ("/bearer", "/password", "/starlette-401")]
    assert [r.status_code for r in answers] == [401, 401, 401]
    assert {r.headers["www-authenticate"] for r in answers} == {"Bearer"}


async def test_a_refused_token_is_named_invalid_token_in_the_challenge() -> None:
    async with await _client() as client:
        r = await client.get("/bearer", headers={"authorization": "Bearer a.b.c"})
    assert r.status_code == 401
    assert r.json()["code"] == "auth.token-expired"
    assert r.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="The token has expired"'
    )


async def test_a_missing_scope_is_named_insufficient_scope() -> None:
    async with await _client() as client:
        r = await client.get("/scope")
    assert r.status_code == 403
    assert r.headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')


async def test_other_errors_carry_no_challenge() -> None:
    async with await _client() as client:
        r = await client.get("/slow-down")
    assert r.status_code == 429
    assert "www-authenticate" not in r.headers
