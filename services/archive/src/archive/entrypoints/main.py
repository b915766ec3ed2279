"""`coffre-archive [serve|migrate]`."""

from __future__ import annotations

from common.http.serve import run_service

from archive.app import MIGRATIONS, create_app
from archive.settings import ArchiveSettings


def main() -> None:
    raise SystemExit(run_service(ArchiveSettings, create_app, MIGRATIONS))


if __name__ == "__main__":
    main()
