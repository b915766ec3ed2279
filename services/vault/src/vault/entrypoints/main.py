"""``coffre-vault [serve|migrate]``."""

from __future__ import annotations

from common.http.serve import run_service

from vault.container import migrations
from vault.entrypoints.app import create_app
from vault.settings import VaultSettings


def main() -> None:
    raise SystemExit(run_service(VaultSettings, create_app, migrations()))


if __name__ == "__main__":
    main()
