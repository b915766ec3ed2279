"""``coffre-auth [serve|migrate|add-tenant SLUG NAME METADATA.xml]``."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from common.http.serve import run_service
from common.runtime import Runtime
from common.settings import load_settings

from auth.bootstrap import MIGRATIONS, Container
from auth.entrypoints.app import create_app
from auth.service import sso
from auth.settings import AuthSettings


async def _add_tenant(slug: str, name: str, xml: str) -> str:
    settings = load_settings(AuthSettings)
    runtime = Runtime(settings, migrations=MIGRATIONS, run_relay=False)
    await runtime.start()
    container = Container(settings)
    try:
        await container.start(runtime)
        assert container.deps is not None
        tenant = await sso.create_tenant(container.deps, slug, name, xml)
        return str(tenant.id)
    finally:
        await container.stop(runtime)
        await runtime.stop()


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["add-tenant"]:
        if len(args) != 4:
            print("usage: coffre-auth add-tenant SLUG NAME METADATA.xml", file=sys.stderr)
            raise SystemExit(2)
        xml = Path(args[3]).read_text("utf-8")
        print(asyncio.run(_add_tenant(args[1], args[2], xml)))
        raise SystemExit(0)
    raise SystemExit(run_service(AuthSettings, create_app, MIGRATIONS))


if __name__ == "__main__":
    main()
