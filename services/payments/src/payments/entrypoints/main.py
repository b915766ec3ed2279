"""`coffre-payments [serve|migrate]`."""

from __future__ import annotations

from common.http.serve import run_service

from payments.app import MIGRATIONS, create_app
from payments.settings import PaymentsSettings


def main() -> None:
    raise SystemExit(run_service(PaymentsSettings, create_app, MIGRATIONS))


if __name__ == "__main__":
    main()
