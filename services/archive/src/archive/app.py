"""Archive's composition root: `create_app(settings=None)` wires runtime, container, routes.

Rule: nothing is opened at import or in `create_app`; the lifespan starts everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.db import MigrationSet
from common.http.app import create_container_app
from common.http.limits import BodyLimits
from common.settings import load_settings
from fastapi import FastAPI

from archive.container import Container
from archive.entrypoints import consumers
from archive.entrypoints.http import router
from archive.settings import ArchiveSettings

MIGRATIONS = MigrationSet.from_folder("archive", Path(__file__).parent / "adapters" / "migrations")

UPLOADS_BOUND_THEMSELVES = BodyLimits(by_suffix={"/v1/receipts": None})
"""The upload route streams its multipart body and refuses it past the configured file size
(``archive.entrypoints.multipart``); every other route has the shared JSON limit."""


def create_app(
    settings: ArchiveSettings | None = None, *, observability: bool = True, **overrides: Any
) -> FastAPI:
    """The service app; `overrides` go to the container (tests: transports, vault, clock)."""
    chosen = settings or load_settings(ArchiveSettings)
    return create_container_app(
        chosen,
        migrations=MIGRATIONS,
        container=lambda runtime: Container(chosen, runtime, **overrides),
        register_consumers=consumers.register,
        title="Coffre archive",
        description="Receipts turned into sealed PDFs, encrypted and kept ten years.",
        routers=[router],
        observability=observability,
        body_limits=UPLOADS_BOUND_THEMSELVES,
    )
