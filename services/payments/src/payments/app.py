"""Payments's composition root: `create_app(settings=None)` wires runtime, container, routes.

Rule: nothing is opened at import or in `create_app`; the lifespan starts everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.db import MigrationSet
from common.http.app import create_container_app
from common.settings import load_settings
from fastapi import FastAPI

from payments.container import Container
from payments.entrypoints import consumers
from payments.entrypoints.http import router
from payments.settings import PaymentsSettings

MIGRATIONS = MigrationSet.from_folder("payments", Path(__file__).parent / "adapters" / "migrations")


def create_app(
    settings: PaymentsSettings | None = None, *, observability: bool = True, **overrides: Any
) -> FastAPI:
    """The service app; `overrides` go to the container (tests: transports, clock, JWKS)."""
    chosen = settings or load_settings(PaymentsSettings)
    return create_container_app(
        chosen,
        migrations=MIGRATIONS,
        container=lambda runtime: Container(chosen, runtime, **overrides),
        register_consumers=consumers.register,
        title="Coffre payments",
        description="Payment initiation with the member's consent, step-up, fraud gate.",
        routers=[router],
        observability=observability,
    )
