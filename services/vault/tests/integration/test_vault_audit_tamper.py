"""Tampering with the audit table by SQL is caught by the verifier and its command."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from common.db.database import Database
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from vault.adapters.anchors import FileAnchorStore, load_or_create_anchor_key
from vault.domain.audit import Head, ProblemKind
from vault.domain.caller import Caller
from vault.entrypoints.audit_cli import verify
from vault.service import audit
from vault.service.anchoring import anchor_head
from vault.service.context import VaultContext
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


async def _fill(ctx: VaultContext, n: int = 4) -> None:
    for i in range(n):
        ref = SecretRef(f"member-{i}", "psd2-consent", "c1")
        await put_secret(ctx, Caller("aggregation"), ref, SecretValue(plaintext=b"token"))
        await read_secret(ctx, Caller("payments"), ref)


async def test_untouched_log_verifies(pg: tuple[Database, VaultContext]) -> None:
    _, ctx = pg
    await _fill(ctx)
    report = await audit.verify(ctx)
    assert report.ok
    assert report.checked == 8


async def test_edited_row_is_caught(pg: tuple[Database, VaultContext]) -> None:
    db, ctx = pg
    await _fill(ctx)
    await db.pool.execute("UPDATE audit_log SET actor = 'aggregation' WHERE seq = 4")
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, ProblemKind.EDITED)


async def test_edited_detail_is_caught(pg: tuple[Database, VaultContext]) -> None:
    db, ctx = pg
    await _fill(ctx)
    await db.pool.execute(
        "UPDATE audit_log SET detail = jsonb_set(detail, '{key_id}', '\"forged\"') WHERE seq = 2"
    )
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert report.problem.seq == 2


async def test_deleted_row_is_caught(pg: tuple[Database, VaultContext]) -> None:
    db, ctx = pg
    await _fill(ctx)
    await db.pool.execute("DELETE FROM audit_log WHERE seq = 5")
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (5, ProblemKind.MISSING)


async def test_reordered_rows_are_caught(pg: tuple[Database, VaultContext]) -> None:
    db, ctx = pg
    await _fill(ctx)
    async with db.pool.acquire() as conn, conn.transaction():
        await conn.execute("UPDATE audit_log SET seq = -1 WHERE seq = 3")
        await conn.execute("UPDATE audit_log SET seq = 3 WHERE seq = 6")
        await conn.execute("UPDATE audit_log SET seq = 6 WHERE seq = -1")
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert report.problem.seq == 3


async def test_rehashed_row_breaks_the_next_link(pg: tuple[Database, VaultContext]) -> None:
    db, ctx = pg
    await _fill(ctx)
    async with ctx.uow() as uow:
        entries = [e async for e in uow.audit.entries()]
    from dataclasses import replace

    forged = replace(entries[2], actor="fraud")
    await db.pool.execute(
        "UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = 3",
        forged.actor,
        forged.computed_hash(),
    )
    report = await audit.verify(ctx)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (4, ProblemKind.BROKEN_LINK)


async def test_cut_tail_is_caught_by_the_recorded_head(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    await _fill(ctx)
    await db.pool.execute("DELETE FROM audit_log WHERE seq > 6")
    report = await verify(vault_settings, None)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.kind) == (8, ProblemKind.MISSING)


async def test_head_kept_outside_catches_a_rewritten_tail(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    await _fill(ctx, 2)
    kept = await audit.head(ctx)
    assert kept is not None
    await db.pool.execute("DELETE FROM audit_log WHERE seq = $1", kept.seq)
    await db.pool.execute(
        "UPDATE audit_head SET seq = seq - 1, hash = (SELECT hash FROM audit_log WHERE seq = $1)",
        kept.seq - 1,
    )
    assert (await verify(vault_settings, None)).ok
    report = await verify(vault_settings, Head(kept.seq, kept.hash))
    assert report.problem is not None
    assert report.problem.kind is ProblemKind.MISSING


async def test_concurrent_appends_keep_one_unbroken_chain(
    pg: tuple[Database, VaultContext],
) -> None:
    import asyncio

    _, ctx = pg
    await _fill(ctx, 1)
    ref = SecretRef("member-0", "psd2-consent", "c1")
    await asyncio.gather(*(read_secret(ctx, Caller("payments"), ref) for _ in range(40)))
    report = await audit.verify(ctx)
    assert report.ok
    assert report.checked == 42


async def test_verify_command_exits_1_on_tampering(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    await _fill(ctx, 2)
    env = _env(vault_settings)
    ok = subprocess.run(
        [sys.executable, "-m", "vault.entrypoints.audit_cli"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert "audit chain intact: 4 entries" in ok.stdout
    await db.pool.execute("UPDATE audit_log SET outcome = 'denied' WHERE seq = 2")
    broken = subprocess.run(
        [sys.executable, "-m", "vault.entrypoints.audit_cli"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert broken.returncode == 1
    assert "BROKEN at seq 2: edited" in broken.stdout


def _verify_command(settings: VaultSettings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vault.entrypoints.audit_cli"],
        env=_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )


async def test_truncated_tail_with_the_head_moved_back_fails_against_the_latest_anchor(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    db, ctx = pg
    await _fill(ctx, 3)
    key = load_or_create_anchor_key(vault_settings.anchor_key_file)
    anchored = await anchor_head(ctx, key, FileAnchorStore(vault_settings.anchor_dir))
    assert anchored is not None
    assert anchored.seq == 6
    intact = _verify_command(vault_settings)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "anchored head seq 6 is on the chain" in intact.stdout
    await db.pool.execute("DELETE FROM audit_log WHERE seq > 4")
    await db.pool.execute(
        "UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_log WHERE seq = 4)"
    )
    truncated = _verify_command(vault_settings)
    assert truncated.returncode == 1, truncated.stdout
    assert "audit chain TRUNCATED" in truncated.stdout
    assert "(seq 6) is missing" in truncated.stdout


async def test_a_forged_anchor_is_not_trusted(
    pg: tuple[Database, VaultContext], vault_settings: VaultSettings
) -> None:
    _, ctx = pg
    await _fill(ctx, 1)
    load_or_create_anchor_key(vault_settings.anchor_key_file)
    forger = Ed25519PrivateKey.generate()
    await anchor_head(ctx, forger, FileAnchorStore(vault_settings.anchor_dir))
    result = _verify_command(vault_settings)
    assert result.returncode == 1
    assert "no anchor verifies" in result.stdout
    assert "does not verify" in result.stderr


def _env(settings: VaultSettings) -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": settings.database_url.get_secret_value(),
        "DATABASE_SCHEMA": settings.schema_name,
        "VAULT_KMS_KEY_FILE": settings.kms_key_file,
        "VAULT_ANCHOR_KEY_FILE": settings.anchor_key_file,
        "VAULT_ANCHOR_DIR": settings.anchor_dir,
        "COFFRE_ENVIRONMENT": "development",
        "LOG_JSON": "true",
    }
