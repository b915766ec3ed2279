"""``coffre-auth [serve|migrate|add-tenant SLUG NAME METADATA.xml|add-oidc-tenant SLUG NAME ...]``.

A client secret is never taken from the command line (other users see it in the process list):
``add-oidc-tenant`` reads it from the environment variable ``--client-secret-env`` names, or
from standard input with ``--client-secret-stdin``; without either the client authenticates with
``private_key_jwt`` and the command prints where its public key is published.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from common.errors import CoffreError
from common.http.serve import run_service
from common.runtime import Runtime
from common.settings import load_settings

from auth.bootstrap import MIGRATIONS, Container
from auth.entrypoints.app import create_app
from auth.service import oidc_tenants, sso
from auth.service.deps import Deps
from auth.service.oidc_tenants import OidcConfig
from auth.settings import AuthSettings


@asynccontextmanager
async def _started() -> AsyncIterator[tuple[AuthSettings, Deps]]:
    """Settings and started dependencies for one administrative command (no relay)."""
    settings = load_settings(AuthSettings)
    runtime = Runtime(settings, migrations=MIGRATIONS, run_relay=False)
    await runtime.start()
    container = Container(settings)
    try:
        await container.start(runtime)
        assert container.deps is not None
        yield settings, container.deps
    finally:
        await container.stop(runtime)
        await runtime.stop()


async def _add_tenant(slug: str, name: str, xml: str) -> str:
    async with _started() as (_, deps):
        tenant = await sso.create_tenant(deps, slug, name, xml)
        return str(tenant.id)


def _oidc_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coffre-auth add-oidc-tenant")
    parser.add_argument("slug")
    parser.add_argument("name")
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--client-id", required=True)
    secret = parser.add_mutually_exclusive_group()
    secret.add_argument("--client-secret-env", metavar="VARIABLE")
    secret.add_argument("--client-secret-stdin", action="store_true")
    parser.add_argument(
        "--redirect-uri", help="default: AUTH_PUBLIC_BASE_URL/v1/oidc/SLUG/callback"
    )
    parser.add_argument("--scopes", default="openid email profile")
    parser.add_argument("--algorithms", default="RS256,ES256,PS256,EdDSA")
    parser.add_argument("--link-verified-email", action="store_true")
    return parser


def _oidc_config(args: argparse.Namespace, base_url: str) -> OidcConfig:
    secret: str | None = None
    if args.client_secret_env:
        secret = os.environ.get(args.client_secret_env) or None
        if secret is None:
            raise SystemExit(f"the variable {args.client_secret_env} is not set")
    elif args.client_secret_stdin:
        secret = sys.stdin.readline().strip() or None
    return OidcConfig(
        issuer=args.issuer,
        client_id=args.client_id,
        redirect_uri=args.redirect_uri or f"{base_url.rstrip('/')}/v1/oidc/{args.slug}/callback",
        client_secret=secret,
        scopes=tuple(args.scopes.split()),
        algorithms=tuple(a.strip() for a in args.algorithms.split(",") if a.strip()),
        link_verified_email=args.link_verified_email,
    )


async def _add_oidc_tenant(args: argparse.Namespace) -> str:
    async with _started() as (settings, deps):
        config = _oidc_config(args, settings.public_base_url)
        client = await oidc_tenants.configure(deps, args.slug, args.name, config)
        base = f"{settings.public_base_url.rstrip('/')}/v1/oidc/{args.slug}"
        lines = [str(client.tenant_id), f"redirect_uri {client.redirect_uri}"]
        if client.client_auth == "private_key_jwt":
            lines.append(f"jwks_uri {base}/jwks.json")
        return "\n".join(lines)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["add-oidc-tenant"]:
        try:
            print(asyncio.run(_add_oidc_tenant(_oidc_parser().parse_args(args[1:]))))
        except CoffreError as exc:
            print(f"coffre-auth: {exc.message}", file=sys.stderr)
            raise SystemExit(2) from None
        raise SystemExit(0)
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
