"""Integration wiring: the real vault app (HTTP + Kafka + Postgres) and service identities."""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from coffre_testing.identities import trusted_identities
from common.db.database import Database
from common.db.migrations import migrate
from common.db.uow import UnitOfWork as CommonUnitOfWork
from common.security.service_identity import ServiceTokenIssuer
from vault.container import make_context, migrations
from vault.service.context import VaultContext
from vault.settings import VaultSettings

sys.path.insert(0, str(Path(__file__).parent))

SERVICES = ("aggregation", "payments", "archive", "backoffice", "fraud", "intruder")


@pytest.fixture(scope="session")
def identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("vault-identities")
    return trusted_identities(folder, *SERVICES[:-1], untrusted=SERVICES[-1:])  # the intruder


@pytest.fixture(scope="session")
def headers(identity_dir: Path) -> Callable[..., dict[str, str]]:
    issuers = {s: ServiceTokenIssuer.from_file(s, identity_dir / f"{s}.key.pem") for s in SERVICES}

    def make(service: str, operator: str | None = None, audience: str = "vault") -> dict[str, str]:
        found = issuers[service].headers_for(audience)
        return found | ({"X-Coffre-Operator": operator} if operator else {})

    return make


@pytest.fixture
def vault_settings(
    infra: object, schema_name: str, identity_dir: Path, tmp_path: Path
) -> VaultSettings:
    settings: VaultSettings = infra.settings(  # type: ignore[attr-defined]
        VaultSettings,
        service_name="vault",
        schema=schema_name,
        service_trust_dir=str(identity_dir / "trust"),
        kms_key_file=str(tmp_path / "kms" / "master.key"),
        anchor_key_file=str(tmp_path / "anchor" / "anchor.key"),
        anchor_dir=str(tmp_path / "anchor" / "checkpoints"),
        grant_sweep_seconds=0.2,
    )
    return settings


@pytest_asyncio.fixture
async def pg(vault_settings: VaultSettings) -> AsyncIterator[tuple[Database, VaultContext]]:
    """A migrated schema and the vault's use cases over it, without the HTTP app."""
    db = await Database.connect(
        vault_settings.database_url.get_secret_value(), vault_settings.schema_name
    )
    await migrate(db, migrations())
    ctx = make_context(vault_settings, lambda: CommonUnitOfWork(db, producer="vault"), lambda: db)
    try:
        yield db, ctx
    finally:
        await ctx.appender.close()
        await db.close()


@pytest.fixture
def member() -> str:
    return f"member-{uuid.uuid4().hex[:10]}"
