"""Running a service process: ``coffre-<service> [serve|migrate]``.

Rules: configuration errors stop the process before anything starts, with a message naming the
setting (exit code 2); ``migrate`` applies pending migrations and exits; ``serve`` (the default)
runs the HTTP app, whose lifespan starts the relay and the consumers.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import uvicorn
from fastapi import FastAPI

from common.db.database import Database
from common.db.migrations import MigrationSet, migrate
from common.errors import ConfigurationError
from common.logging import configure_logging, get_logger
from common.settings import ServiceSettings, load_settings

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    settings_cls: type[S],
    create_app: Callable[[S], FastAPI],
    migrations: MigrationSet | None,
    argv: Sequence[str] | None = None,
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "serve"
    try:
        settings = load_settings(settings_cls)
    except ConfigurationError as exc:
        print(f"configuration error: {exc.message}", file=sys.stderr)
        return 2
    configure_logging(settings.service_name, level=settings.log_level, json=settings.log_json)
    if command == "migrate":
        asyncio.run(_migrate(settings, migrations))
        return 0
    if command != "serve":
        print(f"unknown command {command!r}; use 'serve' or 'migrate'", file=sys.stderr)
        return 2
    uvicorn.Server(server_config(create_app(settings), settings)).run()
    return 0


KEEP_ALIVE_SECONDS = 75


def server_config(app: FastAPI, settings: ServiceSettings) -> uvicorn.Config:
    """How every service is served.

    Rules: an idle keep-alive connection is kept ``KEEP_ALIVE_SECONDS`` (75 s), longer than any
    client keeps one in its pool (httpx: 5 s, gateways: typically 60 s), so a client never
    sends a request on a connection the server is closing at that moment (with equal timeouts,
    both 5 s by default, that race answers "server disconnected" to a request never served).
    The server never rewrites the client address from ``X-Forwarded-For`` (uvicorn does by
    default for a peer on 127.0.0.1): whether a forwarded address is trusted is each service's
    own setting (auth's ``trust_forwarded_for``), so a local proxy or a co-located process cannot
    pick the address that rate limits and audit rows see.
    """
    return uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


async def _migrate(settings: ServiceSettings, migrations: MigrationSet | None) -> None:
    db = await Database.connect(settings.database_url.get_secret_value(), settings.schema_name)
    try:
        applied = await migrate(db, *([migrations] if migrations else []))
        get_logger(__name__).info("migrations_applied", migrations=applied)
    finally:
        await db.close()
