"""``make bench``: throughput figures measured on a fresh embedded stack, never asserted in tests.

The backbone benchmark sends the same number of events two ways in one run: raw aiokafka
produce → consume (the baseline), and Coffre's path — one unit of work per event writing the
outbox, the relay publishing, an idempotent consumer recording each in its inbox — and prints
both rates and their ratio. Then each ``services/<svc>/bench/run.py`` runs against the same
stack and prints its own figures.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from coffre_testing.example.service import MIGRATIONS, ExampleSettings, NoteRecorded
from common.db import MigrationSet, UnitOfWork
from common.events import Envelope, Event
from common.logging import configure_logging
from common.messaging import subscribe
from common.runtime import Runtime
from common.security.service_identity import generate_identity

from devstack.baseline import raw_kafka_rate
from devstack.kafka import EmbeddedKafka
from devstack.layout import DEFAULT_PORTS
from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.1f} {unit}", flush=True)


async def outbox_rate(
    database_url: str, bootstrap: str, count: int, writers: int = 8, per_tx: int = 1
) -> float:
    settings = ExampleSettings.model_validate(
        {
            "service_name": "bench",
            "environment": "test",
            "database_url": database_url,
            "database_schema": f"bench_{uuid.uuid4().hex[:6]}",
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotent_producer": False,
            "kafka_session_timeout_ms": 2000,
            "kafka_heartbeat_interval_ms": 300,
            "db_pool_max": writers + 4,
        }
    )
    owner_prefix = uuid.uuid4().hex[:6]
    done = asyncio.Event()
    processed = 0

    async def handler(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
        nonlocal processed
        assert isinstance(event, NoteRecorded)
        if event.owner.startswith(owner_prefix):
            await uow.conn.execute(
                "INSERT INTO note_effects (owner, seq, event_id) VALUES ($1, $2, $3)",
                event.owner,
                event.seq,
                envelope.event_id,
            )
            processed += 1
            if processed >= count:
                done.set()

    runtime = Runtime(
        settings,
        migrations=MigrationSet.from_folder("example", MIGRATIONS),
        register_consumers=lambda rt: subscribe(
            rt, consumer=f"bench-{settings.schema_name}", events=[NoteRecorded], handler=handler
        ),
    )
    await runtime.start()
    await asyncio.wait_for(runtime.kafka_connected.wait(), 30)
    await asyncio.sleep(3)

    async def writer(index: int) -> None:
        for first in range(index * per_tx, count, writers * per_tx):
            async with runtime.uow() as uow:
                for seq in range(first, min(first + per_tx, count)):
                    owner = f"{owner_prefix}-{seq % 16}"
                    await uow.conn.execute(
                        "INSERT INTO notes (owner, seq, text) VALUES ($1, $2, $3)",
                        owner,
                        seq,
                        "x" * 100,
                    )
                    uow.record(
                        NoteRecorded(note_id=seq, owner=owner, seq=seq, text="x" * 100),
                        subject=owner,
                    )
                await uow.commit()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer(i) for i in range(writers)))
        written = time.perf_counter() - started
        line(f"  outbox writes ({per_tx} event(s) per transaction)", count / written, "events/s")
        await asyncio.wait_for(done.wait(), timeout=600)
        return count / (time.perf_counter() - started)
    finally:
        await runtime.stop()


def backbone(database_url: str, bootstrap: str, count: int) -> None:
    print(f"== backbone ({count:,} events of ~200 B, 2-core machine) ==", flush=True)
    raw = asyncio.run(raw_kafka_rate(bootstrap, count))
    line("raw aiokafka produce→consume", raw, "events/s")
    coffre = asyncio.run(outbox_rate(database_url, bootstrap, count))
    line("outbox → relay → consumer with inbox, one event per transaction", coffre, "events/s")
    print(f"ratio outbox/raw: {coffre / raw:.3f}", flush=True)
    batched = asyncio.run(outbox_rate(database_url, bootstrap, count, per_tx=50))
    line("outbox → relay → consumer with inbox, 50 events per transaction", batched, "events/s")
    print(f"ratio batched outbox/raw: {batched / raw:.3f}", flush=True)


def run_service_benches(root: Path, env: dict[str, str], only: str | None = None) -> None:
    for script in sorted(root.glob("services/*/bench/run.py")):
        if only and script.parent.parent.name != only:
            continue
        print(f"\n== {script.parent.parent.name} ==", flush=True)
        result = subprocess.run([sys.executable, str(script)], env=env, cwd=root, check=False)
        if result.returncode != 0:
            print(f"{script} failed with exit code {result.returncode}", flush=True)


def run_benchmarks(root: Path, *, quick: bool = False, only: str | None = None) -> int:
    count = 5_000 if quick else 20_000
    configure_logging("bench", level="WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally: stop the stack
    base = Path(tempfile.mkdtemp(prefix="coffre-bench-"))
    postgres = EmbeddedPostgres(base / "postgres", free_port())
    kafka = EmbeddedKafka(free_port(), log_file=base / "kafka.log")
    postgres.start()
    kafka.start()
    try:
        if only in (None, "backbone"):
            backbone(postgres.url, kafka.bootstrap_servers, count)
        for name in DEFAULT_PORTS:
            generate_identity(name, base / "identity")
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "KAFKA_IDEMPOTENT_PRODUCER": "false",
            "SERVICE_TRUST_DIR": str(base / "identity"),
            "COFFRE_STATE_DIR": str(base),
            "COFFRE_BENCH_QUICK": "1" if quick else "0",
            "LOG_LEVEL": "WARNING",
        }
        if only != "backbone":
            run_service_benches(root, env, only)
    finally:
        kafka.stop()
        postgres.stop()
    return 0
