"""How a service process starts: a bad setting stops it naming the setting; the server keeps
the peer's address."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import uvicorn
from common.http.serve import run_service, server_config
from common.settings import ServiceSettings
from devstack.ports import free_port
from fastapi import FastAPI, Request

pytestmark = pytest.mark.unit


class DemoSettings(ServiceSettings):
    service_name: str = "demo"


def _never_called(settings: DemoSettings) -> FastAPI:
    raise AssertionError("the app must not be built with bad settings")


def test_bad_setting_stops_the_process_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KAFKA_IDEMPOTENT_PRODUCER", "perhaps-hunter2")
    assert run_service(DemoSettings, _never_called, None, argv=["serve"]) == 2
    err = capsys.readouterr().err
    assert "KAFKA_IDEMPOTENT_PRODUCER" in err or "kafka_idempotent_producer" in err
    assert "hunter2" not in err


def test_unknown_command_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_service(DemoSettings, _never_called, None, argv=["dance"]) == 2
    assert "unknown command" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_the_server_never_takes_the_client_address_from_x_forwarded_for() -> None:
    """A peer on 127.0.0.1 sending X-Forwarded-For: the app still sees 127.0.0.1 (only a
    service's own setting may trust a forwarded address)."""
    app = FastAPI()

    @app.get("/who")
    async def who(request: Request) -> dict[str, str | None]:
        return {"host": request.client.host if request.client else None}

    port = free_port()
    server = uvicorn.Server(server_config(app, DemoSettings(http_port=port)))
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            r = await client.get("/who", headers={"x-forwarded-for": "203.0.113.9"})
        assert r.json() == {"host": "127.0.0.1"}
    finally:
        server.should_exit = True
        await serving


def test_idle_connections_outlive_every_clients_pool() -> None:
    """A client must never reuse a pooled connection the server is closing: the server keeps
    idle connections longer than httpx keeps them (5 s; uvicorn's default is also 5 s)."""
    config = server_config(FastAPI(), DemoSettings(http_port=free_port()))
    expiry = httpx.Limits().keepalive_expiry  # what every client without its own limits uses
    assert expiry is not None
    assert config.timeout_keep_alive > expiry
    assert config.timeout_keep_alive > 60  # longer than a gateway's usual idle timeout too
