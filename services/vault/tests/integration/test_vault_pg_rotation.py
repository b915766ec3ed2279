"""Rotation against Postgres: batches, a crash midway, resume, retirement, the command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

import asyncpg
import pytest
from common.db.database import Database
from common.db.uow import UnitOfWork as CommonUnitOfWork
from vault.container import make_context
from vault.domain.caller import Caller
from vault.service import audit, rotation
from vault.service.context import VaultContext
from vault.service.datakeys import generate_data_key, unwrap_data_key
from vault.service.erasure import erase_subject
from vault.service.secrets import (
    SecretRef,
    SecretValue,
    delete_secret,
    put_secret,
    read_secret,
)
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _members(ctx: VaultContext, n: int) -> list[SecretRef]:
    refs = [SecretRef(f"member-{i:03d}", "psd2-consent", "c1") for i in range(n)]
    for i, ref in enumerate(refs):
        await put_secret(ctx, Caller("aggregation"), ref, SecretValue(plaintext=f"t{i}".encode()))
    return refs


async def test_rotation_survives_a_crash_and_retires_the_old_version(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    refs = await _members(ctx, 45)
    document = await generate_data_key(ctx, Caller("archive"), "member-000", "document")
    await erase_subject(ctx, "member-044", "req-1")
    await delete_secret(ctx, Caller("aggregation"), refs[-1])  # ends the erasure's hold
    before = await db.pool.fetch("SELECT subject, ciphertext FROM secrets ORDER BY subject")
    partial = await rotation.rotate(ctx, batch_size=10, max_batches=2)
    assert partial.running
    assert partial.rewrapped == 20
    restarted = make_context(
        vault_settings, lambda: CommonUnitOfWork(db, producer="vault"), lambda: db
    )
    done = await rotation.rotate(restarted, batch_size=10)
    assert done.rotation_id == partial.rotation_id
    assert done.rewrapped == 44
    states = await db.pool.fetch(
        "SELECT version, state, wrapped IS NULL AS gone FROM master_keys ORDER BY version"
    )
    assert [(r["version"], r["state"], r["gone"]) for r in states] == [
        (1, "retired", True),
        (2, "active", False),
    ]
    assert await db.pool.fetch("SELECT subject, ciphertext FROM secrets ORDER BY subject") == before
    for i, ref in enumerate(refs[:-1]):
        assert await read_secret(restarted, Caller("payments"), ref) == f"t{i}".encode()
    again = await unwrap_data_key(
        restarted, Caller("archive"), "member-000", "document", document.wrapped
    )
    assert again.plaintext == document.plaintext
    await restarted.appender.close()
    topics = await db.pool.fetch("SELECT topic FROM outbox WHERE topic LIKE 'vault.%' ORDER BY id")
    assert [r["topic"] for r in topics].count("vault.rotation-progressed.v1") == 6
    assert "vault.master-key-retired.v1" in {r["topic"] for r in topics}


async def test_two_rotations_never_run_at_once(pg: tuple[Database, VaultContext]) -> None:
    _, ctx = pg
    await _members(ctx, 3)
    first = await rotation.start_or_resume(ctx)
    second = await rotation.start_or_resume(ctx)
    assert second.rotation_id == first.rotation_id


async def test_rotate_command_shows_progress_and_resumes(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    await _members(ctx, 30)
    env = os.environ | {
        "DATABASE_URL": vault_settings.database_url.get_secret_value(),
        "DATABASE_SCHEMA": vault_settings.schema_name,
        "VAULT_KMS_KEY_FILE": vault_settings.kms_key_file,
        "COFFRE_ENVIRONMENT": "development",
        "LOG_JSON": "true",
    }
    command = [sys.executable, "-m", "vault.entrypoints.rotate_cli", "--batch-size", "7"]
    paused = subprocess.run(
        [*command, "--max-batches", "2"], env=env, capture_output=True, text=True, check=False
    )
    assert paused.returncode == 0, paused.stderr
    assert "paused" in paused.stdout
    assert "14/30" in paused.stdout
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "done" in done.stdout
    assert "30/30" in done.stdout
    assert "v1=retired" in done.stdout
    assert "100%" in done.stderr
    assert "30/30" in done.stderr
    assert await db.pool.fetchval("SELECT count(*) FROM data_keys WHERE master_version = 2") == 30


async def _rotation_row(db: Database) -> asyncpg.Record | None:
    return await db.pool.fetchrow(
        "SELECT rotation_id::text AS id, status, rewrapped FROM rotations ORDER BY started_at DESC"
        " LIMIT 1"
    )


async def test_rotation_killed_mid_run_resumes_and_every_secret_stays_readable(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    """SIGKILL the rotate command between two batches; a second run finishes the same
    rotation, re-wraps each data key exactly once and every secret still opens."""
    db, ctx = pg
    total = 300
    refs = await _members(ctx, total)
    document = await generate_data_key(ctx, Caller("archive"), "member-000", "document")
    before = await db.pool.fetch("SELECT subject, ciphertext FROM secrets ORDER BY subject")
    command = [
        sys.executable, "-m", "vault.entrypoints.rotate_cli", "--batch-size", "1", "--no-progress",
    ]  # fmt: skip
    killed = subprocess.Popen(
        command, env=_env(vault_settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 120  # the CLI alone takes ~20 s to import on a loaded host
        while time.monotonic() < deadline:
            row = await _rotation_row(db)
            if row is not None and row["rewrapped"] >= 20:
                break
            await asyncio.sleep(0.005)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate(timeout=10)
    assert killed.returncode == -signal.SIGKILL
    row = await _rotation_row(db)
    assert row is not None
    assert row["status"] == "running", "the rotation finished before it could be killed"
    assert 20 <= row["rewrapped"] < total
    under_new = await db.pool.fetchval("SELECT count(*) FROM data_keys WHERE master_version = 2")
    assert under_new == row["rewrapped"], "a batch was half written"
    states = await db.pool.fetch("SELECT version, state FROM master_keys ORDER BY version")
    assert [(r["version"], r["state"]) for r in states] == [(1, "decrypt-only"), (2, "active")]
    fresh = make_context(vault_settings, lambda: CommonUnitOfWork(db, producer="vault"), lambda: db)
    for i, ref in enumerate(refs):
        assert await read_secret(fresh, Caller("payments"), ref) == f"t{i}".encode()

    resumed = subprocess.run(
        command, env=_env(vault_settings), capture_output=True, text=True, check=False, timeout=60
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"rotation {row['id']} to master version 2: done" in resumed.stdout
    assert f"{total}/{total} data keys re-wrapped" in resumed.stdout
    assert "v1=retired" in resumed.stdout
    assert await db.pool.fetchval("SELECT count(*) FROM rotations") == 1
    assert await db.pool.fetchval("SELECT count(*) FROM data_keys WHERE master_version <> 2") == 0
    assert await db.pool.fetch("SELECT subject, ciphertext FROM secrets ORDER BY subject") == before
    after = make_context(vault_settings, lambda: CommonUnitOfWork(db, producer="vault"), lambda: db)
    for i, ref in enumerate(refs):
        assert await read_secret(after, Caller("payments"), ref) == f"t{i}".encode()
    again = await unwrap_data_key(
        after, Caller("archive"), "member-000", "document", document.wrapped
    )
    assert again.plaintext == document.plaintext
    assert (await audit.verify(after)).ok
    await fresh.appender.close()
    await after.appender.close()


def _env(settings: VaultSettings) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "DATABASE_SCHEMA": settings.schema_name,
        "VAULT_KMS_KEY_FILE": settings.kms_key_file,
        "COFFRE_ENVIRONMENT": "development",
        "LOG_JSON": "true",
    }
