"""``coffre-fraud [serve|migrate]``."""

from __future__ import annotations

from common.http.serve import run_service

from fraud.bootstrap import MIGRATIONS
from fraud.entrypoints.app import create_app
from fraud.settings import FraudSettings


def main() -> None:
    raise SystemExit(run_service(FraudSettings, create_app, MIGRATIONS))


if __name__ == "__main__":
    main()
