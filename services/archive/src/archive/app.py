"""Archive's composition root: `create_app(settings=None)` wires runtime, container, routes.

Rule: nothing is opened at import or in `create_app`; the lifespan starts everything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from common.db import MigrationSet
from common.http import create_service_app
from common.runtime import Runtime
from common.settings import load_settings
from fastapi import FastAPI

from archive.container import Container
from archive.entrypoints import consumers
from archive.entrypoints.http import router
from archive.settings import ArchiveSettings

MIGRATIONS = MigrationSet.from_folder("archive", Path(__file__).parent / "adapters" / "migrations")


def create_app(
    settings: ArchiveSettings | None = None, *, observability: bool = True, **overrides: Any
) -> FastAPI:
    """The service app; `overrides` go to the container (tests: transports, vault, clock)."""
    settings = settings or load_settings(ArchiveSettings)
    holder: list[Container] = []
    runtime = Runtime(
        settings,
        migrations=MIGRATIONS,
        register_consumers=lambda rt: consumers.register(rt, holder[0]),
    )
    container = Container(settings, runtime, **overrides)
    holder.append(container)
    app = create_service_app(
        settings,
        runtime,
        title="Coffre archive",
        description="Receipts turned into sealed PDFs, encrypted and kept ten years.",
        routers=[router],
        on_startup=[container.start],
        on_shutdown=[container.stop],
        configure_observability=observability,
    )
    app.state.container = container
    return app
