"""Integration wiring: archive's real app (HTTP, SMTP, Kafka, Postgres), the real vault app in
process, a real S3 endpoint with Object Lock (moto's server) and the real dev TSA."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from archive.app import create_app
from archive.container import Container
from archive.settings import ArchiveSettings
from archive_it_helpers import MemberTokens
from coffre_testing.app import running_app
from coffre_testing.identities import trusted_identities
from coffre_testing.stores import S3Endpoint, TsaEndpoint
from common.db.database import Database
from devstack.ports import free_port
from vault.entrypoints.app import create_app as create_vault_app
from vault.settings import VaultSettings


@pytest.fixture(scope="session")
def tokens() -> MemberTokens:
    return MemberTokens()


@pytest.fixture(scope="session")
def identity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trusted_identities(tmp_path_factory.mktemp("archive-identities"), "archive")


@dataclass
class Stack:
    app: FastAPI
    client: httpx.AsyncClient
    settings: ArchiveSettings
    tokens: MemberTokens
    s3: Any
    vault_app: FastAPI

    @property
    def container(self) -> Container:
        found: Container = self.app.state.container
        return found

    @property
    def db(self) -> Database:
        database: Database = self.app.state.runtime.db
        return database

    def headers(self, user_id: str, **kw: Any) -> dict[str, str]:
        return self.tokens.headers(user_id, **kw)

    async def upload(
        self, user_id: str, content: bytes, *, name: str = "receipt.jpg",
        content_type: str = "image/jpeg", idempotency_key: str | None = None, **fields: str,
    ) -> httpx.Response:  # fmt: skip
        headers = self.headers(user_id)
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        return await self.client.post(
            "/v1/receipts",
            files={"file": (name, content, content_type)},
            data=fields,
            headers=headers,
        )


def archive_settings(
    infra: Any, schema: str, s3: S3Endpoint, tsa: TsaEndpoint, identity_dir: Path,
    tokens: MemberTokens, **overrides: Any,
) -> ArchiveSettings:  # fmt: skip
    pki = tsa.pki
    values: dict[str, Any] = {
        "service_identity_key_file": str(identity_dir / "archive.key.pem"),
        "vault_url": "http://vault.internal",
        "auth_jwks_json": tokens.jwks_json,
        "s3_endpoint_url": s3.url,
        "s3_access_key_id": s3.access_key_id,
        "s3_secret_access_key": s3.secret_access_key,
        "s3_region": s3.region,
        "s3_bucket": f"receipts-{uuid.uuid4().hex[:12]}",
        "tsa_url": tsa.url,
        "seal_cert_file": str(pki.seal_cert),
        "seal_key_file": str(pki.seal_key),
        "seal_chain_files": (str(pki.root_cert),),
        "seal_trust_roots": (str(pki.root_cert),),
        "seal_crl_files": (str(pki.crl),),
        "smtp_port": 0,
        "scheduler_enabled": False,
        "consumer_group": f"archive-{uuid.uuid4().hex[:8]}",
    } | overrides
    settings: ArchiveSettings = infra.settings(
        ArchiveSettings, service_name="archive", schema=schema, **values
    )
    return settings


@contextlib.asynccontextmanager
async def running_stack(
    infra: Any, schema: str, s3: S3Endpoint, tsa: TsaEndpoint, identity_dir: Path,
    tokens: MemberTokens, tmp_path: Path, *, container_overrides: dict[str, Any] | None = None,
    vault_down: bool = False, **overrides: Any,
) -> AsyncIterator[Stack]:  # fmt: skip
    vault_settings: VaultSettings = infra.settings(
        VaultSettings,
        service_name="vault",
        schema=f"{schema}_vault",
        service_trust_dir=str(identity_dir / "trust"),
        kms_key_file=str(tmp_path / "kms" / "master.key"),
        # the test's own anchors: the default folder is the development stack's (.state), whose
        # vault would take a test chain's checkpoint for its own and report its chain broken
        anchor_key_file=str(tmp_path / "vault" / "anchor.key"),
        anchor_dir=str(tmp_path / "vault" / "anchors"),
    )
    vault_app = create_vault_app(
        vault_settings, erasure_consumer=f"vault-erasure-{uuid.uuid4().hex[:8]}"
    )
    settings = archive_settings(infra, schema, s3, tsa, identity_dir, tokens, **overrides)
    client = boto3.client(
        "s3", endpoint_url=s3.url, region_name=s3.region,
        aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key,
    )  # fmt: skip
    if vault_down:
        settings = settings.model_copy(update={"vault_url": f"http://127.0.0.1:{free_port()}"})
    transport = None if vault_down else httpx.ASGITransport(app=vault_app)
    async with running_app(vault_app, wait_for_kafka=False):
        app = create_app(settings, vault_transport=transport, **(container_overrides or {}))
        async with running_app(app) as http:
            yield Stack(app, http, settings, tokens, client, vault_app)


@pytest_asyncio.fixture
async def stack(
    infra: Any, schema_name: str, s3_endpoint: S3Endpoint, dev_tsa: TsaEndpoint,
    identity_dir: Path, tokens: MemberTokens, tmp_path: Path,
) -> AsyncIterator[Stack]:  # fmt: skip
    async with running_stack(
        infra, schema_name, s3_endpoint, dev_tsa, identity_dir, tokens, tmp_path
    ) as found:
        yield found


@pytest.fixture
def member() -> str:
    return str(uuid.uuid4())


sys.modules.setdefault("archive_it_conftest", sys.modules[__name__])
