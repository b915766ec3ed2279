"""The operator's commands, run as an operator runs them: ``coffre-auth add-tenant`` and
``coffre-auth add-oidc-tenant`` in their own process against the real Postgres and broker, then
the running auth app signs a member in through the tenant they created."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from auth.settings import AuthSettings
from auth_it_conftest import RunningAuth
from coffre_testing.oidc_provider import LocalOidcProvider, RegisteredClient
from saml_idp import TestIdp
from test_auth_oidc import _authorize, _callback
from test_auth_secrets_at_rest import _values

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.slow]


def _command() -> list[str]:
    found = shutil.which("coffre-auth", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "auth.entrypoints.main"]


def _environment(settings: AuthSettings, **extra: str) -> dict[str, str]:
    """The variables an operator's shell would hold for the running service's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "DATABASE_"))}
    env.update(
        COFFRE_ENVIRONMENT="test",
        DATABASE_URL=settings.database_url.get_secret_value(),
        DATABASE_SCHEMA=settings.database_schema or "auth",
        KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
        KAFKA_IDEMPOTENT_PRODUCER=str(settings.kafka_idempotent_producer).lower(),
        AUTH_PEPPER=settings.pepper.get_secret_value(),
        AUTH_KEY_ENCRYPTION_KEY=settings.key_encryption_key.get_secret_value(),
        AUTH_PUBLIC_BASE_URL=settings.public_base_url,
        **extra,
    )
    return env


async def _run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run,
        [*_command(), *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_add_oidc_tenant_with_a_secret_on_stdin_lets_a_member_sign_in(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    secret = "cli-secret-" + uuid.uuid4().hex
    args = ["add-oidc-tenant", slug, "CLI Corp", "--issuer", idp.issuer]
    args += ["--client-id", f"coffre-{slug}", "--client-secret-stdin"]
    done = await _run(args, _environment(auth.settings), stdin=secret + "\n")
    assert done.returncode == 0, done.stderr
    redirect = f"http://testserver/v1/oidc/{slug}/callback"
    assert f"redirect_uri {redirect}" in done.stdout
    assert secret not in done.stdout + done.stderr
    idp.register(RegisteredClient(f"coffre-{slug}", redirect, secret, None))
    signed_in = await _callback(auth, await _authorize(auth, slug))
    assert signed_in.status_code == 200, signed_in.text
    rows = await auth.runtime.db.fetch("SELECT * FROM oidc_clients")
    assert not [v for r in rows for v in _values(dict(r)) if isinstance(v, str) and secret in v]


async def test_add_oidc_tenant_without_a_secret_publishes_its_private_key_jwt_key(
    auth: RunningAuth, idp: LocalOidcProvider
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    args = ["add-oidc-tenant", slug, "CLI Corp", "--issuer", idp.issuer]
    done = await _run([*args, "--client-id", f"coffre-{slug}"], _environment(auth.settings))
    assert done.returncode == 0, done.stderr
    assert f"jwks_uri http://testserver/v1/oidc/{slug}/jwks.json" in done.stdout
    jwks = (await auth.client.get(f"/v1/oidc/{slug}/jwks.json")).json()
    assert [k.get("d") for k in jwks["keys"]] == [None], "only the public half is published"
    redirect = f"http://testserver/v1/oidc/{slug}/callback"
    idp.register(RegisteredClient(f"coffre-{slug}", redirect, None, jwks))
    signed_in = await _callback(auth, await _authorize(auth, slug))
    assert signed_in.status_code == 200, signed_in.text


async def test_add_oidc_tenant_refuses_an_unset_secret_variable_without_writing(
    auth: RunningAuth,
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    args = ["add-oidc-tenant", slug, "CLI Corp", "--issuer", "https://idp.example.test"]
    args += ["--client-id", "coffre", "--client-secret-env", "NOT_SET_ANYWHERE"]
    done = await _run(args, _environment(auth.settings))
    assert done.returncode != 0
    assert "NOT_SET_ANYWHERE is not set" in done.stderr
    assert await auth.runtime.db.fetchval("SELECT count(*) FROM tenants WHERE slug = $1", slug) == 0


async def test_add_tenant_from_saml_metadata_serves_the_service_provider_metadata(
    auth: RunningAuth, tmp_path: Path
) -> None:
    slug = f"cli-{uuid.uuid4().hex[:6]}"
    metadata = tmp_path / "idp.xml"
    metadata.write_text(TestIdp(tmp_path).metadata(), "utf-8")
    done = await _run(["add-tenant", slug, "CLI Corp", str(metadata)], _environment(auth.settings))
    assert done.returncode == 0, done.stderr
    uuid.UUID(done.stdout.strip().splitlines()[-1])
    r = await auth.client.get(f"/v1/sso/{slug}/metadata")
    assert r.status_code == 200
    assert "AssertionConsumerService" in r.text
