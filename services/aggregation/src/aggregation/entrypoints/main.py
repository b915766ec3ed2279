"""`coffre-aggregation [serve|migrate]`."""

from __future__ import annotations

from common.http.serve import run_service

from aggregation.app import MIGRATIONS, create_app
from aggregation.settings import AggregationSettings


def main() -> None:
    raise SystemExit(run_service(AggregationSettings, create_app, MIGRATIONS))


if __name__ == "__main__":
    main()
