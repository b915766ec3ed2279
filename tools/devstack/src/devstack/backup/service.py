"""Taking a backup and restoring one: the steps, in the order that keeps them safe.

Rules:
- Backup: one snapshot, one fresh data key; each schema's dump is hashed, encrypted and uploaded
  as it streams; the manifest is written last, so a backup that failed half-way has none and is
  never listed or restored.
- Restore: the manifest is read and the data key unwrapped first, then every object's size and
  SHA-256 are checked, then the target is checked (or cleared when told), and only then is
  anything written; each schema is restored in one transaction, its plaintext hash checked
  before that transaction may commit; finally each table's row count must equal the snapshot's.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from vault.service.ports import Kms

from devstack.backup import pgtools
from devstack.backup.errors import BackupError, BackupNotFound, IntegrityError
from devstack.backup.keys import DataKey, new_data_key, unwrap
from devstack.backup.manifest import (
    Manifest,
    SchemaDump,
    associated_data,
    dump_key,
    manifest_key,
    new_backup_id,
    valid_backup_id,
)
from devstack.backup.segments import SegmentDecryptor, SegmentEncryptor
from devstack.backup.settings import BackupSettings
from devstack.backup.store import BackupStore

Say = Callable[[str], None]


@dataclass(frozen=True)
class KmsRef:
    kms: Kms
    key_id: str


async def run_backup(
    settings: BackupSettings, kms: KmsRef, *, only: list[str] | None = None
) -> Manifest:
    url = settings.database_url.get_secret_value()
    target = pgtools.Target.parse(url)
    store = BackupStore(settings)
    await store.ensure_bucket()
    started = datetime.now(UTC)
    backup_id = new_backup_id(started)
    retain_until = started + timedelta(days=settings.retention_days)
    key = await new_data_key(kms.kms, backup_id)
    dumped: list[SchemaDump] = []
    async with pgtools.exported_snapshot(url, only) as snapshot:
        if not snapshot.schemas:
            raise BackupError("the database has no schema with tables: nothing to back up")
        for schema in snapshot.schemas:
            dumped.append(
                await _dump_one(store, target, snapshot, schema, backup_id, key, retain_until)
            )
    manifest = Manifest(
        backup_id=backup_id,
        started_at=started,
        finished_at=datetime.now(UTC),
        retain_until=retain_until,
        database=target.where,
        postgres_version=snapshot.server_version,
        pg_dump_version=await pgtools.tool_version("pg_dump"),
        snapshot=snapshot.id,
        kms_key_id=kms.key_id,
        wrapped_key=key.wrapped,
        schemas=dumped,
    )
    await store.put_bytes(
        manifest_key(backup_id), manifest.model_dump_json(indent=2).encode(), retain_until
    )
    return manifest


async def _dump_one(
    store: BackupStore,
    target: pgtools.Target,
    snapshot: pgtools.Snapshot,
    schema: str,
    backup_id: str,
    key: DataKey,
    retain_until: datetime,
) -> SchemaDump:
    encryptor = SegmentEncryptor(key.plaintext, associated_data(backup_id, schema))
    digest = hashlib.sha256()
    size = 0

    async def encrypted() -> AsyncIterator[bytes]:
        nonlocal size
        async for chunk in pgtools.dump_schema(target, snapshot.id, schema):
            digest.update(chunk)
            size += len(chunk)
            if sealed := encryptor.feed(chunk):
                yield sealed
        yield encryptor.finish()

    object_key = dump_key(backup_id, schema)
    stored = await store.put_stream(object_key, encrypted(), retain_until)
    return SchemaDump(
        schema_name=schema,
        key=object_key,
        plain_bytes=size,
        stored_bytes=stored.size,
        plain_sha256=digest.hexdigest(),
        stored_sha256=stored.sha256,
        row_counts=snapshot.row_counts[schema],
    )


async def load_manifest(store: BackupStore, backup_id: str | None) -> Manifest:
    """The manifest of ``backup_id``, or of the newest backup when it is None."""
    if backup_id is None:
        ids = await store.backup_ids()
        if not ids:
            raise BackupNotFound(f"no backup in bucket {store.bucket!r}")
        backup_id = ids[-1]
    if not valid_backup_id(backup_id):
        raise BackupNotFound(f"{backup_id!r} is not a backup id (e.g. 20261201T020000Z-1a2b3c4d)")
    raw = await store.get_bytes(manifest_key(backup_id))
    try:
        manifest = Manifest.model_validate_json(raw)
    except ValidationError:
        raise IntegrityError(f"the manifest of {backup_id} is not readable") from None
    if manifest.backup_id != backup_id:
        raise IntegrityError(f"the manifest stored under {backup_id} names another backup")
    return manifest


@dataclass(frozen=True)
class RestoreReport:
    manifest: Manifest
    restored_rows: int
    seconds: float


async def run_restore(
    settings: BackupSettings,
    kms: KmsRef,
    *,
    backup_id: str | None,
    target_url: str,
    drop_existing: bool = False,
    create_database: bool = False,
    say: Say = lambda _: None,
) -> RestoreReport:
    started = time.monotonic()
    store = BackupStore(settings)
    manifest = await load_manifest(store, backup_id)
    key = await unwrap(kms.kms, manifest.backup_id, manifest.wrapped_key)
    for dump in manifest.schemas:
        await _verify_stored(store, dump)
    say(f"backup {manifest.backup_id}: {len(manifest.schemas)} objects match their SHA-256")
    if create_database and await pgtools.create_database(target_url):
        say("target database created")
    schemas = [d.schema_name for d in manifest.schemas]
    await pgtools.prepare_target(target_url, schemas, drop_existing=drop_existing)
    target = pgtools.Target.parse(target_url)
    for dump in manifest.schemas:
        await pgtools.restore_schema(
            target, dump.schema_name, _decrypting(store, dump, key, manifest)
        )
        say(f"schema {dump.schema_name} restored ({len(dump.row_counts)} tables)")
    await _check_counts(target_url, manifest)
    total = sum(sum(d.row_counts.values()) for d in manifest.schemas)
    return RestoreReport(manifest, total, time.monotonic() - started)


async def _check_counts(target_url: str, manifest: Manifest) -> None:
    """Every table of the snapshot has, restored, the rows it had."""
    counts = await pgtools.row_counts(target_url, [d.schema_name for d in manifest.schemas])
    wrong = [
        f"{d.schema_name}.{table}: {counts[d.schema_name].get(table)} rows, backup had {rows}"
        for d in manifest.schemas
        for table, rows in d.row_counts.items()
        if counts[d.schema_name].get(table) != rows
    ]
    if wrong:
        raise IntegrityError("row counts differ after the restore: " + "; ".join(wrong[:5]))


async def _verify_stored(store: BackupStore, dump: SchemaDump) -> None:
    digest, size = hashlib.sha256(), 0
    async for chunk in store.stream(dump.key):
        digest.update(chunk)
        size += len(chunk)
    if size != dump.stored_bytes or digest.hexdigest() != dump.stored_sha256:
        raise IntegrityError(
            f"{dump.key} does not match its manifest (size or SHA-256): altered or truncated; "
            "nothing restored"
        )


def _decrypting(
    store: BackupStore, dump: SchemaDump, key: bytes, manifest: Manifest
) -> Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]:
    """Stream, authenticate and decrypt one dump into ``write``; the last piece is written only
    once the whole stream authenticated and its hash matched, so pg_restore, which needs the
    end of the archive to finish, never commits a dump that fails a check."""

    async def feed(write: Callable[[bytes], Awaitable[None]]) -> None:
        decryptor = SegmentDecryptor(key, associated_data(manifest.backup_id, dump.schema_name))
        digest = hashlib.sha256()
        held = b""  # the newest plaintext waits until the next one authenticates
        async for chunk in store.stream(dump.key):
            plain = decryptor.feed(chunk)
            if plain:
                digest.update(plain)
                await write(held)
                held = plain
        decryptor.finish()
        if digest.hexdigest() != dump.plain_sha256:
            raise IntegrityError(f"the decrypted dump of {dump.schema_name} has another SHA-256")
        await write(held)

    return feed


async def list_backups(settings: BackupSettings) -> list[Manifest]:
    store = BackupStore(settings)
    return [await load_manifest(store, backup_id) for backup_id in await store.backup_ids()]
