"""Once a service has started, what start-up built is out of the collector's generations, so a
full collection under load walks only what requests made."""

from __future__ import annotations

import gc

import pytest
from common.http import create_service_app
from common.settings import ServiceSettings

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


class _Runtime:
    def __init__(self) -> None:
        self.started = False

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False


async def test_the_start_up_heap_is_frozen_once_the_service_has_started() -> None:
    gc.unfreeze()
    runtime = _Runtime()
    settings = ServiceSettings.model_validate({"service_name": "heap-test"})
    app = create_service_app(settings, runtime, title="t", configure_observability=False)  # type: ignore[arg-type]
    assert gc.get_freeze_count() == 0
    try:
        async with app.router.lifespan_context(app):
            assert runtime.started
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
