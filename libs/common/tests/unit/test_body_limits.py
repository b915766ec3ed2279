"""Every service app bounds request bodies before reading them: a declared or streamed body over
the limit gets a 413 problem (never a 500, never a buffered body), a length that is not a number
a 400 problem, and a service's own layer in front of the router reads bounded bodies too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from coffre_testing.app import ReadyRuntime
from common.http import create_service_app
from common.http.limits import BodyLimits
from common.settings import ServiceSettings
from fastapi import APIRouter, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

LIMITS = BodyLimits(1_000, {"/big": 5_000, "/free": None})


class _ReadsBodiesFirst:
    """A service layer that reads a whole body before the router (as the vault's lean routes do)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/outer":
            await self.app(scope, receive, send)
            return
        size = 0
        while True:
            message: Message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
def client() -> httpx.AsyncClient:
    router = APIRouter()
    ran: list[str] = []

    @router.post("/echo")
    @router.post("/big")
    @router.post("/free")
    async def echo(request: Request) -> dict[str, int]:
        ran.append(request.url.path)
        return {"size": len(await request.body())}

    @router.post("/ignores-body")
    async def ignores_body() -> dict[str, bool]:
        return {"ok": True}

    settings = ServiceSettings.model_validate({"service_name": "limits-test"})
    app = create_service_app(
        settings, ReadyRuntime(), title="t", routers=[router], body_limits=LIMITS,  # type: ignore[arg-type]
        configure_observability=False,
    )  # fmt: skip
    app.add_middleware(_ReadsBodiesFirst)
    app.state.ran = ran
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://svc")


def _chunks(total: int, size: int = 400) -> AsyncIterator[bytes]:
    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, total, size):
            yield b"x" * min(size, total - start)

    return stream()


def _assert_problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["cache-control"] == "no-store"
    body = answer.json()
    assert (body["status"], body["code"]) == (status, code)


async def test_a_body_within_the_limit_is_read(client: httpx.AsyncClient) -> None:
    answer = await client.post("/echo", content=b"x" * 1_000)
    assert answer.status_code == 200
    assert answer.json() == {"size": 1_000}
    answer = await client.post("/echo", content=_chunks(1_000))
    assert answer.json() == {"size": 1_000}


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/echo", content=b"x" * 1_001)
    _assert_problem(answer, 413, "request.too-large")
    assert answer.json()["instance"] == "/echo"
    assert client._transport.app.state.ran == []  # type: ignore[attr-defined]


async def test_a_streamed_body_is_cut_off_past_the_limit(client: httpx.AsyncClient) -> None:
    _assert_problem(await client.post("/echo", content=_chunks(50_000)), 413, "request.too-large")


async def test_a_length_that_is_not_a_number_is_a_400(client: httpx.AsyncClient) -> None:
    answer = await client.post("/echo", content=b"{}", headers={"content-length": "12a"})
    _assert_problem(answer, 400, "request.bad")


async def test_routes_named_by_suffix_have_their_own_limit_or_none(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/big", content=b"x" * 5_000)).json() == {"size": 5_000}
    _assert_problem(await client.post("/big", content=b"x" * 5_001), 413, "request.too-large")
    _assert_problem(await client.post("/big", content=_chunks(9_000)), 413, "request.too-large")
    assert (await client.post("/free", content=_chunks(50_000))).json() == {"size": 50_000}


async def test_a_layer_reading_bodies_before_the_router_reads_them_bounded(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/outer", content=_chunks(1_000))).text == "1000"
    _assert_problem(await client.post("/outer", content=_chunks(5_000)), 413, "request.too-large")
    _assert_problem(await client.post("/outer", content=b"x" * 5_000), 413, "request.too-large")


async def test_a_route_that_never_reads_its_body_answers_normally(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.post("/ignores-body", content=_chunks(50_000))
    assert answer.json() == {"ok": True}
