"""The vault as ``coffre-vault serve`` runs it (same app factory, same uvicorn settings through
``run_service``), plus one bench-only route: ``POST /v1/bench/noop`` parses the same body as a
single unwrap and answers the same shape without touching anything, through the same
middleware (tracing, metrics, no-store). Its rate, with the same client in the same run, is the
raw HTTP baseline the unwrap rate is compared with.
"""

from __future__ import annotations

from common.http.serve import run_service
from fastapi import FastAPI
from vault.container import migrations
from vault.entrypoints import schemas as s
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings


def create_bench_app(settings: VaultSettings) -> FastAPI:
    app = create_app(settings)

    @app.post("/v1/bench/noop", response_model=s.DataKeyOut)
    async def noop(body: s.UnwrapIn) -> s.DataKeyOut:
        return s.DataKeyOut(document_key_id="noop", plaintext=body.wrapped[:43])

    return app


if __name__ == "__main__":
    raise SystemExit(run_service(VaultSettings, create_bench_app, migrations()))
