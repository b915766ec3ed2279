"""The vault as ``coffre-vault serve`` runs it (same app factory, same uvicorn settings through
``run_service``), plus two bench-only routes that parse the same body as a single unwrap and
answer the same shape without touching anything, through the same layers (tracing, metrics,
no-store): ``POST /v1/bench/noop``, a FastAPI route (what every other vault route costs), and
``POST /v1/bench/lean-noop``, a pure ASGI handler in the place of ``vault.entrypoints.lean``
(what the lean unwrap routes cost before their own work). Their rates, with the same client in
the same run, are the raw HTTP baselines the unwrap rates are compared with.
"""

from __future__ import annotations

from common.http.serve import run_service
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from vault.container import migrations
from vault.entrypoints import schemas as s
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings

LEAN_NOOP = "/v1/bench/lean-noop"


class LeanNoop:
    """``POST /v1/bench/lean-noop``: the body read and validated as ``UnwrapIn``, the answer
    written as bytes, as the lean unwrap path does; nothing else (imports nothing the vault
    added for its lean path, so the same harness also measures earlier code)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != LEAN_NOOP:
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            asked = s.UnwrapIn.model_validate_json(body)
        except ValidationError:
            await send({"type": "http.response.start", "status": 422, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        plaintext = asked.wrapped[:43]
        answer = f'{{"document_key_id":"noop","plaintext":"{plaintext}","wrapped":null}}'.encode()
        headers = [(b"content-length", str(len(answer)).encode()),
                   (b"content-type", b"application/json")]  # fmt: skip
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})


def create_bench_app(settings: VaultSettings) -> FastAPI:
    app = create_app(settings)

    @app.post("/v1/bench/noop", response_model=s.DataKeyOut)
    async def noop(body: s.UnwrapIn) -> s.DataKeyOut:
        return s.DataKeyOut(document_key_id="noop", plaintext=body.wrapped[:43])

    # right inside the no-store layer, where the lean unwrap layer sits
    app.user_middleware.insert(1, Middleware(LeanNoop))
    return app


if __name__ == "__main__":
    raise SystemExit(run_service(VaultSettings, create_bench_app, migrations()))
