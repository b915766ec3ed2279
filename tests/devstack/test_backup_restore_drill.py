"""The restore drill: back up the service schemas, destroy them, restore, and find everything as
it was — row counts, the vault's audit chain, outbox and inbox state — with the real embedded
Postgres, a real S3 endpoint with Object Lock, the vault's KMS key file, and the real vault app
consuming from the real broker; a redelivered event is not applied twice after the restore.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest.mock import patch

import asyncpg
import boto3
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from auth.bootstrap import MIGRATIONS as AUTH_MIGRATIONS
from coffre_testing.app import running_app
from coffre_testing.infra import Infra
from coffre_testing.stores import S3Endpoint
from coffre_testing.waiting import eventually
from common.db.database import Database
from common.db.migrations import migrate
from common.db.uow import UnitOfWork
from common.events.base import Envelope
from common.events.erasure import ErasureRequested
from common.security.service_identity import ServiceTokenIssuer, generate_identity
from devstack.backup.cli import add_commands, execute
from devstack.backup.keys import unwrap
from devstack.backup.manifest import Manifest, associated_data, manifest_key
from devstack.backup.segments import SegmentDecryptor
from vault.adapters.kms import LocalFileKms
from vault.entrypoints.app import create_app
from vault.entrypoints.audit_cli import verify
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.timeout(600)]

CONSUMER = f"vault.erasure.drill-{uuid.uuid4().hex[:6]}"
SECRET = b"consent-token-drill-7f3a9c"
MARKER = "drill-marker-5b1e2d"


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


@dataclass
class Drill:
    infra: Infra
    endpoint: S3Endpoint
    folder: Path
    database: str
    bucket: str

    @property
    def url(self) -> str:
        return self.infra.database_url.rsplit("/", 1)[0] + f"/{self.database}"

    def vault_settings(self) -> VaultSettings:
        settings: VaultSettings = self.infra.settings(
            VaultSettings,
            service_name="vault",
            schema="vault",
            database_url=self.url,
            service_trust_dir=str(self.folder / "identity"),
            kms_key_file=str(self.folder / "kms" / "master.key"),
            anchor_key_file=str(self.folder / "anchor" / "anchor.key"),
            anchor_dir=str(self.folder / "anchor" / "checkpoints"),
        )
        return settings

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "DATABASE_URL": self.url,
            "OBJECT_STORE_ENDPOINT_URL": self.endpoint.url,
            "AWS_ACCESS_KEY_ID": self.endpoint.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.endpoint.secret_access_key,
            "AWS_REGION": self.endpoint.region,
            "VAULT_KMS_KEY_FILE": str(self.folder / "kms" / "master.key"),
            "COFFRE_BACKUP_BUCKET": self.bucket,
            "COFFRE_BACKUP_STATUS_DIR": str(self.folder / "status"),
            "COFFRE_STATE_DIR": str(self.folder / "state"),
            **extra,
        }

    async def coffre_dev(self, *args: str, **env: str) -> Run:
        """``coffre-dev backup|restore ARGS`` in this process, with its settings in ``env``."""
        parser = argparse.ArgumentParser()
        add_commands(parser.add_subparsers(dest="command", required=True))
        out, err = io.StringIO(), io.StringIO()
        with patch.dict(os.environ, self.env(**env)), redirect_stdout(out), redirect_stderr(err):
            code = await execute(parser.parse_args(list(args)), self.folder)
        return Run(code, out.getvalue(), err.getvalue())

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint.url,
            aws_access_key_id=self.endpoint.access_key_id,
            aws_secret_access_key=self.endpoint.secret_access_key,
            region_name=self.endpoint.region,
        )


@pytest_asyncio.fixture(scope="module")
async def drill(
    infra: Infra, s3_endpoint: S3Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Drill]:
    folder = tmp_path_factory.mktemp("drill")
    for name in ("aggregation", "archive", "vault"):
        generate_identity(name, folder / "identity")
    drill = Drill(infra, s3_endpoint, folder, f"drill_{uuid.uuid4().hex[:8]}", "")
    drill.bucket = f"drill-{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(infra.database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{drill.database}"')
        yield drill
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{drill.database}" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE IF EXISTS "{drill.database}_b" WITH (FORCE)')
        await admin.close()


def _token(drill: Drill, service: str) -> dict[str, str]:
    issuer = ServiceTokenIssuer.from_file(service, drill.folder / "identity" / f"{service}.key.pem")
    return issuer.headers_for("vault")


async def _publish(drill: Drill, envelope: Envelope, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=drill.infra.bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(envelope.topic, envelope.to_bytes(), key=key.encode())
    finally:
        await producer.stop()


async def _auth_outbox(drill: Drill, erased: str, pending: str) -> Envelope:
    """auth's schema: its migrations, and its outbox with two erasure requests (only the first
    will be relayed)."""
    db = await Database.connect(drill.url, "auth")
    try:
        await migrate(db, AUTH_MIGRATIONS)
        envelopes = []
        for member in (erased, pending):
            async with UnitOfWork(db, producer="auth") as uow:
                event = ErasureRequested(
                    user_id=member, requested_at=datetime.now(UTC), request_id=f"{MARKER}-{member}"
                )
                uow.record(event, subject=member)
                envelopes.append(uow.recorded[-1])
                await uow.commit()
        return envelopes[0]
    finally:
        await db.close()


async def _relay(drill: Drill, envelope: Envelope, key: str) -> None:
    """What auth's relay does with its outbox row: publish it, then mark it sent."""
    await _publish(drill, envelope, key)
    conn = await asyncpg.connect(drill.url)
    try:
        await conn.execute(
            "UPDATE auth.outbox SET sent_at = now() WHERE event_id = $1", envelope.event_id
        )
    finally:
        await conn.close()


async def _count(url: str, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def _state(url: str) -> dict[str, Any]:
    """What must survive: rows per table, outbox delivery state, inbox ids."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema IN ('auth', 'vault') AND table_type = 'BASE TABLE'"
        )
        counts = {
            f"{t['table_schema']}.{t['table_name']}": await conn.fetchval(
                f'SELECT count(*) FROM "{t["table_schema"]}"."{t["table_name"]}"'
            )
            for t in tables
        }
        outbox = {
            s: [tuple(r) for r in await conn.fetch(
                f"SELECT event_id, sent_at IS NOT NULL, attempts FROM {s}.outbox ORDER BY id"
            )]
            for s in ("auth", "vault")
        }  # fmt: skip
        inbox = [tuple(r) for r in await conn.fetch("SELECT consumer, event_id FROM vault.inbox")]
        return {"counts": counts, "outbox": outbox, "inbox": sorted(inbox)}
    finally:
        await conn.close()


async def _populate(drill: Drill, erased: str, kept: str) -> Envelope:
    """Real vault work through its app: a secret written and read (audited), a member erased
    through the erasure event from auth's outbox, its completion relayed to the broker."""
    request = await _auth_outbox(drill, erased, f"pending-{erased}")
    app = create_app(drill.vault_settings(), erasure_consumer=CONSUMER)
    async with running_app(app) as client:
        url = f"/v1/subjects/{kept}/secrets/psd2-consent/c1"
        value = base64.urlsafe_b64encode(SECRET).decode()
        assert (
            await client.put(url, json={"value": value}, headers=_token(drill, "aggregation"))
        ).is_success
        assert (await client.get(url, headers=_token(drill, "aggregation"))).is_success
        keys = await client.post(
            f"/v1/subjects/{erased}/data-keys", json={"purpose": "document"},
            headers=_token(drill, "archive"),
        )  # fmt: skip
        assert keys.is_success
        await _relay(drill, request, erased)

        async def completion_relayed() -> bool:
            return (
                await _count(
                    drill.url,
                    "SELECT count(*) FROM vault.outbox"
                    " WHERE topic LIKE 'erasure.erasure-completed%' AND sent_at IS NOT NULL",
                )
                == 1
            )

        await eventually(completion_relayed, timeout=60)
    return request


async def test_restore_brings_back_rows_audit_chain_outbox_and_inbox(drill: Drill) -> None:
    erased, kept = f"m-{uuid.uuid4().hex[:8]}", f"k-{uuid.uuid4().hex[:8]}"
    request = await _populate(drill, erased, kept)
    before = await _state(drill.url)

    done = await drill.coffre_dev("backup")
    assert done.returncode == 0, done.stderr
    assert " done: 2 schemas" in done.stdout
    status = (drill.folder / "status" / "status.json").read_text()
    assert '"last_success"' in status
    assert (
        "coffre_backup_last_success_timestamp_seconds"
        in (drill.folder / "status" / "backup.prom").read_text()
    )

    conn = await asyncpg.connect(drill.url)
    await conn.execute("DROP SCHEMA vault CASCADE; DROP SCHEMA auth CASCADE")
    await conn.close()

    restored = await drill.coffre_dev("restore")
    assert restored.returncode == 0, restored.stderr
    assert "row counts match" in restored.stdout
    assert await _state(drill.url) == before

    report = await verify(drill.vault_settings(), None)
    assert report.ok
    assert report.checked == before["counts"]["vault.audit_log"]

    again = await drill.coffre_dev("restore")
    assert again.returncode == 1
    assert "already has schema(s) auth, vault" in again.stderr

    await _redelivery_is_not_applied_twice(drill, request, erased, kept)


async def _redelivery_is_not_applied_twice(
    drill: Drill, request: Envelope, erased: str, kept: str
) -> None:
    """The restored inbox still knows the consumed request: its redelivery is dropped, while a
    new event behind it (same partition) is applied — and the restored vault opens the secret
    written before the backup with the same KMS key."""
    erasures = "SELECT count(*) FROM vault.audit_log WHERE action LIKE 'erasure%' AND subject = $1"
    erased_before = await _count(drill.url, erasures, erased)
    app = create_app(drill.vault_settings(), erasure_consumer=CONSUMER)
    async with running_app(app) as client:
        await _publish(drill, request, erased)
        sentinel = Envelope.wrap(
            ErasureRequested(user_id=f"s-{erased}", requested_at=datetime.now(UTC), request_id="s"),
            producer="auth",
            subject=f"s-{erased}",
        )
        await _publish(drill, sentinel, erased)

        async def sentinel_applied() -> bool:
            return await _count(drill.url, erasures, f"s-{erased}") > 0

        await eventually(sentinel_applied, timeout=60)
        assert await _count(drill.url, erasures, erased) == erased_before
        read = await client.get(
            f"/v1/subjects/{kept}/secrets/psd2-consent/c1", headers=_token(drill, "aggregation")
        )
        assert base64.urlsafe_b64decode(read.json()["value"] + "==") == SECRET


async def test_backup_objects_hold_no_plaintext(drill: Drill) -> None:
    s3 = drill.s3()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=drill.bucket)["Contents"]]
    manifest_name = next(k for k in keys if k.endswith("manifest.json"))
    manifest = Manifest.model_validate_json(
        s3.get_object(Bucket=drill.bucket, Key=manifest_name)["Body"].read()
    )
    key = await unwrap(
        LocalFileKms(drill.folder / "kms" / "master.key", create=False),
        manifest.backup_id,
        manifest.wrapped_key,
    )
    for dump in manifest.schemas:
        stored = s3.get_object(Bucket=drill.bucket, Key=dump.key)["Body"].read()
        for clear in (b"PGDMP", b"CREATE TABLE", b"outbox", MARKER.encode(), SECRET):
            assert clear not in stored, (dump.key, clear)
        plain = _decrypt(key, manifest, dump.schema_name, stored)
        assert plain.startswith(b"PGDMP")  # the check is meaningful: the dump is in there
        assert b"CREATE TABLE" in plain
    lock = s3.get_object_lock_configuration(Bucket=drill.bucket)["ObjectLockConfiguration"]
    assert lock["ObjectLockEnabled"] == "Enabled"
    version = s3.list_object_versions(Bucket=drill.bucket, Prefix=manifest_name)["Versions"][0]
    with pytest.raises(s3.exceptions.ClientError):
        s3.delete_object(Bucket=drill.bucket, Key=manifest_name, VersionId=version["VersionId"])


def _decrypt(key: bytes, manifest: Manifest, schema: str, stored: bytes) -> bytes:
    decryptor = SegmentDecryptor(key, associated_data(manifest.backup_id, schema))
    plain = decryptor.feed(stored)
    decryptor.finish()
    return plain


async def test_restore_with_another_kms_key_is_refused_and_writes_nothing(drill: Drill) -> None:
    other = drill.folder / "other-kms" / "master.key"
    LocalFileKms(other).load_or_create()
    target = f"{drill.url}_b"
    done = await drill.coffre_dev(
        "restore", "--database-url", target, "--create-database", VAULT_KMS_KEY_FILE=str(other)
    )
    assert done.returncode == 1
    assert "data key does not unwrap" in done.stderr
    assert SECRET.decode() not in done.stderr + done.stdout
    database = target.rsplit("/", 1)[1]
    exists = "SELECT count(*) FROM pg_database WHERE datname = $1"
    assert await _count(drill.infra.database_url, exists, database) == 0  # refused before writing


async def test_tampered_backup_is_refused_even_with_a_matching_manifest(drill: Drill) -> None:
    """An altered object fails its hash; with the manifest rewritten to match, it fails its
    authentication tag mid-stream, and the schema's transaction never commits."""
    s3 = drill.s3()
    backup = await drill.coffre_dev("backup", "--schema", "auth")
    assert backup.returncode == 0, backup.stderr
    backup_id = backup.stdout.split("backup ", 1)[1].split()[0]
    manifest = Manifest.model_validate_json(
        s3.get_object(Bucket=drill.bucket, Key=manifest_key(backup_id))["Body"].read()
    )
    (dump,) = manifest.schemas
    stored = bytearray(s3.get_object(Bucket=drill.bucket, Key=dump.key)["Body"].read())
    stored[len(stored) // 2] ^= 0x01
    s3.put_object(Bucket=drill.bucket, Key=dump.key, Body=bytes(stored))
    target = f"{drill.url}_b"

    done = await drill.coffre_dev(
        "restore", "--backup-id", backup_id, "--database-url", target, "--create-database"
    )
    assert done.returncode == 1
    assert "does not match its manifest" in done.stderr

    forged = manifest.model_copy(
        update={
            "schemas": [
                dump.model_copy(update={"stored_sha256": hashlib.sha256(stored).hexdigest()})
            ]
        }
    )
    s3.put_object(
        Bucket=drill.bucket, Key=manifest_key(backup_id), Body=forged.model_dump_json().encode()
    )
    done = await drill.coffre_dev(
        "restore", "--backup-id", backup_id, "--database-url", target, "--create-database"
    )
    assert done.returncode == 1
    assert "does not authenticate" in done.stderr
    assert await _count(target, "SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'") == 0
