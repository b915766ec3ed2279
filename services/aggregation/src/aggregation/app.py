"""Aggregation's composition root: `create_app(settings=None)` wires runtime, container, routes.

Rule: nothing is opened at import or in `create_app`; the lifespan starts everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.db import MigrationSet
from common.http.app import create_container_app
from common.settings import load_settings
from fastapi import FastAPI

from aggregation.container import Container
from aggregation.entrypoints import consumers
from aggregation.entrypoints.credentials_http import router as credentials_router
from aggregation.entrypoints.http import router
from aggregation.settings import AggregationSettings

MIGRATIONS = MigrationSet.from_folder(
    "aggregation", Path(__file__).parent / "adapters" / "migrations"
)


def create_app(
    settings: AggregationSettings | None = None, *, observability: bool = True, **overrides: Any
) -> FastAPI:
    """The service app; `overrides` go to the container (tests: transports, vault, clock)."""
    chosen = settings or load_settings(AggregationSettings)
    return create_container_app(
        chosen,
        migrations=MIGRATIONS,
        container=lambda runtime: Container(chosen, runtime, **overrides),
        register_consumers=consumers.register,
        title="Coffre aggregation",
        description="Bank connections through a PSD2 agent and the member's transaction feed.",
        routers=[router, credentials_router],
        observability=observability,
    )
