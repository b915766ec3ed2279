"""``coffre-dev backup`` and ``coffre-dev restore``: the commands, their defaults and the loop.

Rules: without settings of their own, both commands use the dev stack that ``make run`` starts
(its Postgres, its S3 endpoint, the vault's KMS key file under the state folder). Errors print
one line (never a secret) and exit 1. ``backup --every 24h`` runs until SIGTERM or Ctrl-C,
recording each outcome in the status folder (``schedule``); an interrupted backup leaves an
aborted upload and no manifest, so it is never taken for a backup.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from devstack.backup.errors import BackupError
from devstack.backup.keys import vault_kms
from devstack.backup.manifest import Manifest
from devstack.backup.schedule import BackupStatus, next_due, parse_interval
from devstack.backup.service import KmsRef, list_backups, run_backup, run_restore
from devstack.backup.settings import BackupSettings
from devstack.backup.store import BackupStore
from devstack.layout import state_dir


def say(message: str) -> None:
    print(f"[coffre-dev backup] {message}", flush=True)


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser("backup", help="encrypted backup of every service schema to S3")
    backup.add_argument("--schema", action="append", help="only this schema (repeatable)")
    backup.add_argument(
        "--every", type=parse_interval, help="keep running: one backup per interval"
    )
    backup.add_argument("--list", action="store_true", help="list the backups in the bucket")
    restore = sub.add_parser("restore", help="restore a backup into an empty database")
    restore.add_argument("--backup-id", default="latest", help="an id from `backup --list`")
    restore.add_argument("--database-url", help="the target (default: DATABASE_URL)")
    restore.add_argument("--create-database", action="store_true", help="create it if missing")
    restore.add_argument(
        "--drop-existing", action="store_true", help="drop the backup's schemas in the target first"
    )


def dev_defaults(root: Path) -> None:
    """Point at the dev stack of ``make run`` for whatever is not set."""
    from devstack.runner import PG_PORT, S3_PORT
    from devstack.s3store import CREDENTIALS

    state = state_dir(root)
    pg_port = os.environ.get("COFFRE_DEV_PG_PORT", str(PG_PORT))
    s3_port = os.environ.get("COFFRE_DEV_S3_PORT", str(S3_PORT))
    os.environ.setdefault("DATABASE_URL", f"postgresql://coffre@127.0.0.1:{pg_port}/coffre")
    if "OBJECT_STORE_ENDPOINT_URL" not in os.environ:
        os.environ["OBJECT_STORE_ENDPOINT_URL"] = f"http://127.0.0.1:{s3_port}"
        os.environ.setdefault("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    os.environ.setdefault("VAULT_KMS_KEY_FILE", str(state / "kms" / "master.key"))
    os.environ.setdefault("COFFRE_BACKUP_STATUS_DIR", str(state / "backup"))


def run_command(args: argparse.Namespace, root: Path) -> int:
    dev_defaults(root)
    return asyncio.run(execute(args, root))


async def execute(args: argparse.Namespace, root: Path) -> int:
    """Run a parsed ``backup`` or ``restore`` command; the exit code."""
    try:
        settings = BackupSettings()
    except ValidationError as exc:
        names = ", ".join(str(e["loc"][0]) for e in exc.errors())
        print(f"[coffre-dev {args.command}] bad setting: {names}", file=sys.stderr)
        return 2
    try:
        if args.command == "restore":
            return await _restore(settings, args)
        if args.list:
            return await _list(settings)
        status = BackupStatus(settings.status_dir or state_dir(root) / "backup")
        if args.every:
            return await _every(settings, status, args.every, args.schema)
        return await _once(settings, status, args.schema)
    except BackupError as exc:
        print(f"[coffre-dev {args.command}] FAILED: {exc}", file=sys.stderr, flush=True)
        return 1


def _kms() -> KmsRef:
    kms, key_id = vault_kms()
    return KmsRef(kms, key_id)


async def _once(settings: BackupSettings, status: BackupStatus, only: list[str] | None) -> int:
    started = time.monotonic()
    try:
        manifest = await run_backup(settings, _kms(), only=only)
    except BackupError as exc:
        status.failed(str(exc))
        raise
    seconds = time.monotonic() - started
    status.succeeded(manifest.backup_id, manifest.stored_bytes, seconds, len(manifest.schemas))
    say(
        f"backup {manifest.backup_id} done: {len(manifest.schemas)} schemas, "
        f"{manifest.stored_bytes / 1e6:.2f} MB encrypted in s3://{settings.bucket}, "
        f"locked until {manifest.retain_until:%Y-%m-%d}, {seconds:.1f} s"
    )
    return 0


async def _every(
    settings: BackupSettings, status: BackupStatus, every: timedelta, only: list[str] | None
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    last = status.last_success() or await _newest_in_bucket(settings)
    failures, attempt = 0, None
    hours = every.total_seconds() / 3600
    say(f"daily schedule: one backup every {hours:g} h; last success {last or 'never'}")
    while not stop.is_set():
        due = next_due(last, failures, attempt, every)
        now = datetime.now(UTC)
        if due is not None and due > now:
            say(f"next backup at {due:%Y-%m-%d %H:%M:%S} UTC")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), (due - now).total_seconds())
            continue
        attempt = now
        try:
            await _until_stopped(_once(settings, status, only), stop)
        except BackupError as exc:
            failures += 1
            say(f"backup FAILED ({failures} in a row): {exc}")
            continue
        last, failures = status.last_success(), 0
    say("stopped")
    return 0


async def _until_stopped(work: Coroutine[Any, Any, int], stop: asyncio.Event) -> None:
    """Run ``work``; on stop, cancel it (an upload in flight is aborted, no manifest written)."""
    task = asyncio.create_task(work)
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        say("backup interrupted by stop: not recorded")
        return
    task.result()


async def _newest_in_bucket(settings: BackupSettings) -> datetime | None:
    try:
        ids = await BackupStore(settings).backup_ids()
    except BackupError:
        return None
    return datetime.strptime(ids[-1][:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) if ids else None


async def _list(settings: BackupSettings) -> int:
    manifests: list[Manifest] = await list_backups(settings)
    for m in manifests:
        schemas = ",".join(s.schema_name for s in m.schemas)
        print(
            f"{m.backup_id}  {m.finished_at:%Y-%m-%d %H:%M:%S}  {m.stored_bytes:>12,} B  "
            f"locked until {m.retain_until:%Y-%m-%d}  postgres {m.postgres_version}  {schemas}"
        )
    if not manifests:
        print(f"no backup in s3://{settings.bucket}")
    return 0


async def _restore(settings: BackupSettings, args: argparse.Namespace) -> int:
    target = args.database_url or settings.database_url.get_secret_value()
    report = await run_restore(
        settings,
        _kms(),
        backup_id=None if args.backup_id == "latest" else args.backup_id,
        target_url=target,
        drop_existing=args.drop_existing,
        create_database=args.create_database,
        say=lambda line: print(f"[coffre-dev restore] {line}", flush=True),
    )
    m = report.manifest
    print(
        f"[coffre-dev restore] backup {m.backup_id} (taken {m.finished_at:%Y-%m-%d %H:%M:%S} UTC)"
        f" restored: {len(m.schemas)} schemas, {report.restored_rows} rows, row counts match,"
        f" {report.seconds:.1f} s",
        flush=True,
    )
    return 0
