"""``coffre-fraud [serve|migrate]``.

Rule: the serving process freezes what exists once its app is built (modules, settings, the
app: objects that live as long as the process) out of the garbage collector's reach and
collects its youngest generation every ``GC_YOUNG_THRESHOLD`` allocations instead of 700, so
scoring a batch (thousands of short-lived objects) does not set off full collections that walk
the whole heap. Memory is still freed by reference counting as before.
"""

from __future__ import annotations

import gc

from common.http.serve import run_service
from fastapi import FastAPI

from fraud.bootstrap import MIGRATIONS
from fraud.entrypoints.app import create_app
from fraud.settings import FraudSettings

GC_YOUNG_THRESHOLD = 10_000


def create_serving_app(settings: FraudSettings) -> FastAPI:
    """The app, with the garbage collector tuned for a long-running scorer."""
    app = create_app(settings)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD)
    return app


def main() -> None:
    raise SystemExit(run_service(FraudSettings, create_serving_app, MIGRATIONS))


if __name__ == "__main__":
    main()
