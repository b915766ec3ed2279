"""``make bench``: throughput figures measured on a fresh embedded stack, never asserted in tests.

The backbone benchmark sends the same number of events several ways in one run: raw aiokafka
produce → consume of messages as large as the bench's event envelopes (the baseline), and
Coffre's path — units of work writing the outbox, the relay publishing, an idempotent consumer
recording each in its inbox — with single-event transactions (plain, then sharing commits) and
50-event transactions, per-event and batch handlers, and once while the relay purges an expired
backlog, and with the consumer in a process of its own (the consuming service's shape); it prints
each rate and its ratio to the baseline (``devstack.backbone_bench``). The metrics line runs one
request loop with metrics off and on and prints both rates and their ratio
(``devstack.metrics_bench``). Then each ``services/<svc>/bench/run.py`` runs against the same
Postgres and a broker of its own, started fresh for it: the embedded broker's memory storage
gets slower as stored batches pile up (a consumer of raw aiokafka at 2,000/s in 2 ms batches
falls behind after ~15 s on it), so a service bench run after the backbone's hundreds of
thousands of events would measure the backbone's leftovers.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from common.logging import configure_logging
from common.security.service_identity import generate_identity

from devstack.backbone_bench import Scenario, envelope_size, run_scenario
from devstack.backbone_stages import run_stages
from devstack.baseline import raw_kafka_rate
from devstack.kafka import EmbeddedKafka
from devstack.layout import DEFAULT_PORTS
from devstack.metrics_bench import metrics_cost
from devstack.ports import free_port
from devstack.postgres import EmbeddedPostgres


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.1f} {unit}", flush=True)


def backbone(database_url: str, bootstrap: str, count: int) -> None:
    """Each scenario's end-to-end rate beside raw aiokafka measured just before and just after
    it (the machine's load drifts: the ratio is to their mean)."""
    size = envelope_size()
    print(f"== backbone ({count:,} events, envelopes of {size} B, 2-core machine) ==", flush=True)
    print(f"load average: {os.getloadavg()[0]:.1f}", flush=True)
    small = asyncio.run(raw_kafka_rate(bootstrap, count))
    line("raw aiokafka produce→consume, 200 B messages (earlier runs' baseline)", small, "events/s")
    staged = Scenario(count, per_tx=50, batch_handler=True)
    stages = asyncio.run(run_stages(database_url, bootstrap, staged))
    line("stages alone, 50-event tx: outbox writes", stages.write, "events/s")
    line("stages alone: relay publishing a backlog", stages.relay, "events/s")
    line("stages alone: consumer (batch handler) reading a backlog", stages.consume, "events/s")
    raw = asyncio.run(raw_kafka_rate(bootstrap, count, size))
    for name, scenario in scenarios(count):
        result = asyncio.run(run_scenario(database_url, bootstrap, scenario))
        after = asyncio.run(raw_kafka_rate(bootstrap, count, size))
        raw_name = f"raw aiokafka produce→consume, {size} B (before, after)"
        line(raw_name, raw, f"/ {after:,.1f} events/s")
        line(f"  {name}: outbox writes", result.write_rate, "events/s")
        line(f"  {name}: relayed (first write → last ack)", result.relay_rate, "events/s")
        print(
            f"  {name}: {result.commits:,} producing commits, "
            f"{result.handler_calls:,} handler calls",
            flush=True,
        )
        per_event = result.bench_cpu_s / scenario.count * 1e6
        line(f"  {name}: bench process CPU", per_event, "µs per event")
        if result.consumer_cpu_s is not None:
            per_event = result.consumer_cpu_s / scenario.count * 1e6
            line(f"  {name}: consuming process CPU", per_event, "µs per event")
        if scenario.purge_backlog:
            line(f"  {name}: expired inbox ids purged", result.purged, "rows")
        line(f"{name}: end to end", result.end_to_end_rate, "events/s")
        ratio = result.end_to_end_rate / ((raw + after) / 2)
        print(f"ratio to raw: {ratio:.3f} (load average {os.getloadavg()[0]:.1f})", flush=True)
        raw = after


def scenarios(count: int) -> list[tuple[str, Scenario]]:
    return [
        (
            "single-event writes, 16 writers, batched-write path, batch handler",
            Scenario(count, batched_writes=True, batch_handler=True),
        ),
        (
            "single-event writes, 64 writers, batched-write path, batch handler",
            Scenario(count, writers=64, batched_writes=True, batch_handler=True),
        ),
        (
            "single-event writes, 64 writers, batched-write path, consumer in its own process",
            Scenario(
                count, writers=64, batched_writes=True, batch_handler=True, consumer_process=True
            ),
        ),
        (
            "single-event writes, 128 writers, batched-write path, consumer in its own process",
            Scenario(
                count, writers=128, batched_writes=True, batch_handler=True, consumer_process=True
            ),
        ),
        (
            "single-event tx, 16 writers, shared commits, batch handler",
            Scenario(count, shared_commit=True, batch_handler=True),
        ),
        (
            "single-event tx, 16 writers, own commits, batch handler",
            Scenario(count, batch_handler=True),
        ),
        ("50-event tx, 16 writers, per-event handler", Scenario(count, per_tx=50)),
        ("50-event tx, 16 writers, batch handler", Scenario(count, per_tx=50, batch_handler=True)),
        (
            "50-event tx, 16 writers, batch handler, consumer in its own process",
            Scenario(count, per_tx=50, batch_handler=True, consumer_process=True),
        ),
        (
            "50-event tx, 16 writers, batch handler, purging 100k+100k expired rows meanwhile",
            Scenario(count, per_tx=50, batch_handler=True, purge_backlog=100_000),
        ),
    ]


def run_service_benches(
    root: Path, env: dict[str, str], state: Path, only: str | None = None
) -> list[str]:
    """Each service's bench in a process of its own; the names of those that failed. Each gets
    its own vault audit anchors under ``state`` (a bench that runs a vault has its own schema,
    so anchors another bench's vault wrote would not match its chain) and a fresh broker."""
    failed: list[str] = []
    for script in sorted(root.glob("services/*/bench/run.py")):
        name = script.parent.parent.name
        if only and name != only:
            continue
        print(f"\n== {name} ==", flush=True)
        anchors = state / "vault-anchors" / name
        kafka = EmbeddedKafka(free_port(), log_file=state / f"kafka-{name}.log")
        kafka.start()
        own = {
            **env,
            "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
            "VAULT_ANCHOR_KEY_FILE": str(anchors / "anchor.key"),
            "VAULT_ANCHOR_DIR": str(anchors / "anchors"),
        }
        try:
            result = subprocess.run([sys.executable, str(script)], env=own, cwd=root, check=False)
        finally:
            kafka.stop()
        if result.returncode != 0:
            print(f"{script} failed with exit code {result.returncode}", flush=True)
            failed.append(name)
    return failed


def run_benchmarks(root: Path, *, quick: bool = False, only: str | None = None) -> int:
    """Run the benches; ``--quick`` or ``COFFRE_BENCH_QUICK=1`` in the environment (either one)
    gives the smaller volumes, here and in every service's bench. The stack's folder (Postgres
    data, broker log) is removed at the end unless ``COFFRE_BENCH_KEEP=1``. Exits non-zero when
    a service's bench failed (after running the others)."""
    quick = quick or os.environ.get("COFFRE_BENCH_QUICK") == "1"
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
        if only in (None, "metrics"):
            metrics_cost(postgres.url, kafka.bootstrap_servers, 300 if quick else 1_000)
        for name in DEFAULT_PORTS:
            generate_identity(name, base / "identity")
        env = {
            **os.environ,
            "DATABASE_URL": postgres.url,
            "KAFKA_IDEMPOTENT_PRODUCER": "false",
            "SERVICE_TRUST_DIR": str(base / "identity"),
            "COFFRE_STATE_DIR": str(base),
            "COFFRE_BENCH_QUICK": "1" if quick else "0",
            "COFFRE_BENCH_EMBEDDED": "1",  # a bench may start fresh embedded brokers of its own
            "LOG_LEVEL": "WARNING",
        }
        if only not in ("backbone", "metrics"):
            failed = run_service_benches(root, env, base, only)
            if failed:
                print(f"benches that failed: {', '.join(failed)}", flush=True)
                return 1
    finally:
        kafka.stop()
        postgres.stop()
        if os.environ.get("COFFRE_BENCH_KEEP") == "1":
            print(f"bench state kept in {base}", flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)  # a full run leaves ~300 MB otherwise
    return 0
