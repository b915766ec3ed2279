"""Fraud bench: events scored per second and publish → TransactionScored latency, at a fixed
offered rate and at saturation, with precision and recall on labelled synthetic activity.

Standalone: reads KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL from the environment (``make bench``
sets them; without them it starts the embedded stack itself). The fraud service runs as its own
process (``python -m fraud.entrypoints.main``) in a throw-away schema; this script publishes
``PaymentInitiated`` and ``TransactionIngested`` events from the seeded generator and reads
``TransactionScored`` back. The raw baseline (aiokafka produce → consume of same-sized
messages, and its latency at the same offered rate) is measured in the same run. Prints
``name: value unit`` lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaProducer
from common.events import Envelope, Event, all_topics
from common.events.aggregation import TransactionIngested
from common.events.payments import PaymentInitiated
from common.messaging.kafka import ensure_topics
from common.messaging.relay import LINGER_SECONDS as RELAY_LINGER
from devstack.backbone_bench import place_group_at_end
from fraud.evaluation.evaluate import evaluate
from fraud.evaluation.scenarios import generate
from fraud.evaluation.synthetic import SyntheticEvent
from load import Phase, Scored, measure, offer
from proc_cpu import broker_of, postgres_cpu_seconds, postmaster_of, process_cpu_seconds

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
RATE = int(os.environ.get("FRAUD_BENCH_RATE", "2000"))
SECONDS = float(os.environ.get("FRAUD_BENCH_SECONDS", "5" if QUICK else "10"))
SATURATION = int(os.environ.get("FRAUD_BENCH_SATURATION", "5000" if QUICK else "20000"))
REPLICAS = [int(n) for n in os.environ.get("FRAUD_BENCH_REPLICAS", "1,2").split(",")]
"""Fleet sizes run one after the other, each on a fresh schema: one process, then two (the
deployed shape, ``deploy/k8s/services/fraud.yaml``), sharing the consumer group."""
DEPLOYED_PARTITIONS = 6
LINGER_MS = int(os.environ.get("FRAUD_BENCH_LINGER_MS", str(round(RELAY_LINGER * 1000))))
"""The bench sends as the outbox relays of payments and aggregation, which publish these
events, do (``common.messaging.relay``): what is due every ``LINGER_MS`` leaves as one record
batch per partition; the raw baseline sends the same way."""
TICK = LINGER_MS / 1000
FETCH_MAX_WAIT_MS = int(os.environ.get("FRAUD_BENCH_FETCH_MAX_WAIT_MS", "5"))
READER_WAIT_MS = int(os.environ.get("FRAUD_BENCH_READER_WAIT_MS", "5"))
"""The fetch wait of the bench's TransactionScored reader (and of the raw baseline's)."""


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.2f} {unit}", flush=True)


@dataclass
class Prepared:
    """Encoded events ready to send, with their labels."""

    messages: list[tuple[str, bytes, bytes, str]] = field(default_factory=list)
    labels: dict[str, bool] = field(default_factory=dict)


def prepare(phase: str, seed: int, count: int) -> Prepared:
    """``count`` scorable events of a seeded synthetic stream, renamed to this phase."""
    accounts = max(50, count // 40)
    data = generate(seed, accounts=accounts, days=14, fraud_share=0.12)
    prepared = Prepared()
    for synthetic in data.scorable[:count]:
        topic, value, key, ref = encode(phase, synthetic)
        prepared.messages.append((topic, value, key, ref))
        prepared.labels[ref] = synthetic.is_fraud
    return prepared


def encode(phase: str, synthetic: SyntheticEvent) -> tuple[str, bytes, bytes, str]:
    payload = dict(synthetic.payload)
    owner = f"{phase}-{synthetic.owner_ref}"
    payload["account_ref"] = f"{phase}-{payload['account_ref']}"
    event: Event
    if synthetic.kind == "payment":
        payload["payment_id"] = f"{phase}-{payload['payment_id']}"
        event, ref = PaymentInitiated.model_validate(payload), payload["payment_id"]
    else:
        payload["transaction_ref"] = f"{phase}-{payload['transaction_ref']}"
        payload.update(user_id=owner, status="booked")
        event, ref = TransactionIngested.model_validate(payload), payload["transaction_ref"]
    envelope = Envelope.wrap(event, producer="bench", subject=owner)
    return event.topic(), envelope.to_bytes(), payload["account_ref"].encode(), ref


async def raw_baseline(bootstrap: str, size: int, count: int, rate: float) -> tuple[float, Phase]:
    """aiokafka alone: saturated produce → consume rate, and latency at ``rate``."""
    topic = f"bench.fraud-raw-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    reader = Scored(bootstrap, topic, READER_WAIT_MS)
    await producer.start()
    await reader.start()
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        await reader.wait_for(["warm-up"], 120)
        body = b"x" * size
        fixed = [(topic, body, f"f{i}".encode(), f"f{i}") for i in range(int(rate * SECONDS))]
        sent = await offer(producer, fixed, rate, reader, TICK)
        await reader.wait_for(list(sent.due), 300)
        at_rate = measure(sent, reader)
        burst = [(topic, body, f"s{i}".encode(), f"s{i}") for i in range(count)]
        sent = await offer(producer, burst, None, reader, TICK)
        await reader.wait_for(list(sent.due), 300)
        return measure(sent, reader).scored_per_second, at_rate
    finally:
        await reader.stop()
        await producer.stop()


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """The run's folder: the embedded stack's data when the bench starts it, each replica's log
    and stage timings. Removed at the end (a standalone run's stack is ~900 MB) unless
    ``COFFRE_BENCH_KEEP=1`` or the run failed; then its path is printed (the logs say why)."""
    base = Path(tempfile.mkdtemp(prefix="fraud-bench-"))
    try:
        yield base
    except BaseException:
        print(f"bench state kept in {base}", flush=True)
        raise
    if os.environ.get("COFFRE_BENCH_KEEP") == "1":
        print(f"bench state kept in {base}", flush=True)
    else:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Brokers:
    """Where each part of the run (the raw baseline, each fleet) finds its broker: the one
    given in ``KAFKA_BOOTSTRAP_SERVERS`` for all of them, or, on the embedded stack, a fresh one
    each. The embedded broker's memory storage gets slower as record batches pile up: two
    replicas measured after the raw baseline and one replica scored 2,716 to 2,849/s at
    saturation, alone on a fresh broker 4,615/s."""

    given: str | None
    folder: Path
    started: int = 0

    @contextlib.asynccontextmanager
    async def fresh(self) -> AsyncIterator[str]:
        """A broker for one part of the run, its topics made with the deployed partitions."""
        if self.given:
            bootstrap = self.given
            await _topics(bootstrap)
            yield bootstrap
            return
        from devstack.kafka import EmbeddedKafka

        self.started += 1
        kafka = EmbeddedKafka(_free_port(), log_file=self.folder / f"kafka-{self.started}.log")
        await asyncio.to_thread(kafka.start)
        try:
            await _topics(kafka.bootstrap_servers)
            yield kafka.bootstrap_servers
        finally:
            await asyncio.to_thread(kafka.stop)


async def _topics(bootstrap: str) -> None:
    """Every topic with as many partitions as deployed (``deploy/k8s/kafka.yaml``: 6), so two
    replicas split the accounts evenly; a topic the broker made on first use would have one
    partition, all of it one replica's."""
    await ensure_topics(bootstrap, all_topics(), partitions=DEPLOYED_PARTITIONS)


@contextlib.contextmanager
def infrastructure(base: Path) -> Iterator[tuple[str, Brokers]]:
    """Postgres and the brokers: those of the environment (``DATABASE_URL``,
    ``KAFKA_BOOTSTRAP_SERVERS``), else the embedded stack started here. With
    ``COFFRE_BENCH_EMBEDDED=1`` (``make bench``: its stack is the embedded one) the given
    broker is left alone and each part of the run starts a fresh embedded one."""
    database_url = os.environ.get("DATABASE_URL")
    given = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if os.environ.get("COFFRE_BENCH_EMBEDDED") == "1":
        given = None
    if database_url:
        yield database_url, Brokers(given, base)
        return
    from devstack.postgres import EmbeddedPostgres

    postgres = EmbeddedPostgres(base / "postgres", _free_port())
    postgres.start()
    try:
        print("(no DATABASE_URL: started the embedded Postgres)")
        yield postgres.url, Brokers(given, base)
    finally:
        postgres.stop()


@dataclass
class Service:
    """One fraud process under test, and where its stage timings go."""

    process: subprocess.Popen[bytes]
    stages: Path
    signals: int = 0

    def timings(self) -> dict[str, Any]:
        """What the process measured since the previous call (``bench/stages.py``)."""
        self.signals += 1
        self.process.send_signal(signal.SIGUSR1)
        path = Path(f"{self.stages}.{self.signals}")
        for _ in range(200):
            if path.exists():
                with contextlib.suppress(json.JSONDecodeError):
                    data: dict[str, Any] = json.loads(path.read_text())
                    return data
            time.sleep(0.05)
        return {}


@dataclass(frozen=True)
class Cpu:
    """CPU seconds used so far by the service's replicas, Postgres, the broker and the bench
    process, and the wall clock when read; a phase's figures are the difference of two."""

    service: float = 0.0
    postgres: float = 0.0
    broker: float = 0.0
    bench: float = 0.0
    wall: float = 0.0

    def __sub__(self, since: Cpu) -> Cpu:
        return Cpu(
            self.service - since.service,
            self.postgres - since.postgres,
            self.broker - since.broker,
            self.bench - since.bench,
            self.wall - since.wall,
        )


@dataclass
class Fleet:
    """The fraud replicas under test: one schema, one consumer group, one process each."""

    replicas: list[Service]
    postmaster: int | None = None
    broker: int | None = None

    def cpu_seconds(self) -> Cpu:
        """CPU time used so far (user + system) by every replica together, by Postgres (all of
        it: the bench's stack serves this service alone; 0 when Postgres is not local), by the
        embedded broker (0 when it is not local) and by this bench process, with the wall
        clock: what the phase's processes took of the machine's cores."""
        return Cpu(
            sum(process_cpu_seconds(r.process.pid) for r in self.replicas),
            postgres_cpu_seconds(self.postmaster) if self.postmaster else 0.0,
            process_cpu_seconds(self.broker) if self.broker else 0.0,
            time.process_time(),
            time.perf_counter(),
        )

    def timings(self) -> list[dict[str, Any]]:
        """Each replica's stage timings since the previous call."""
        return [replica.timings() for replica in self.replicas]


@contextlib.asynccontextmanager
async def fraud_fleet(
    database_url: str, bootstrap: str, size: int, folder: Path
) -> AsyncIterator[Fleet]:
    """``size`` fraud processes (each with the stage timer of ``bench/stages.py``) in one
    throw-away schema and consumer group, started one after the other until each is ready (the
    first migrates the schema). The fleet's activity group starts at the topics' ends, so a
    fleet does not first score every event an earlier fleet of the run was offered. The schema
    is dropped when the fleet stops: left behind, its tables were vacuumed and analysed by
    autovacuum while the next fleet ran (1.4 s of Postgres CPU, counted as that fleet's)."""
    tag = uuid.uuid4().hex[:8]
    await _settle(database_url)
    for topic in (PaymentInitiated.topic(), TransactionIngested.topic()):
        await place_group_at_end(bootstrap, f"bench-fraud-{tag}.activity", topic)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_IDEMPOTENT_PRODUCER": os.environ.get("KAFKA_IDEMPOTENT_PRODUCER", "false"),
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        "DATABASE_SCHEMA": f"bench_fraud_{tag}",
        "FRAUD_CONSUMER_GROUP_PREFIX": f"bench-fraud-{tag}",
        "FRAUD_AUTO_REGISTER_ACCOUNTS": "true",
        "FRAUD_REPORT_CHECK_SECONDS": "3600",
        # The bench's broker keeps records in memory, read well within a 5 ms fetch deadline
        # (the service's 500 ms default is for a broker whose storage is slower).
        "FRAUD_FETCH_MAX_WAIT_MS": str(FETCH_MAX_WAIT_MS),
        "LOG_LEVEL": os.environ.get("FRAUD_BENCH_LOG_LEVEL", "WARNING"),
        "LOG_JSON": "true",
    }
    fleet = Fleet([], postmaster=postmaster_of(database_url), broker=broker_of(bootstrap))
    logs: list[IO[bytes]] = []
    try:
        for index in range(size):
            port = _free_port()
            name = f"fraud-bench-{tag}-{index}"
            stages = folder / f"{name}.stages.json"
            own = {**env, "FRAUD_BENCH_STAGES": str(stages), "HTTP_PORT": str(port)}
            log_path = folder / f"{name}.log"
            log, process = await asyncio.to_thread(_spawn, own, log_path)
            logs.append(log)
            fleet.replicas.append(Service(process, stages))
            await _ready(port, process)
        await _balanced(fleet)
        yield fleet
    finally:
        for replica in fleet.replicas:
            replica.process.terminate()
        for replica in fleet.replicas:
            try:
                replica.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                replica.process.kill()
        for log in logs:
            log.close()
        await _drop_schema(database_url, env["DATABASE_SCHEMA"])


async def _settle(database_url: str) -> None:
    """Vacuum and analyse the whole database before a fleet starts, so autovacuum does not work
    off what earlier benches and fleets left (other schemas' dead rows) while this fleet is
    measured: Postgres's CPU is counted for the whole server."""
    await _execute(database_url, "VACUUM (ANALYZE)")


async def _drop_schema(database_url: str, schema: str) -> None:
    await _execute(database_url, f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


async def _execute(database_url: str, statement: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _balanced(fleet: Fleet) -> None:
    """With several replicas, give the consumer group time to settle its assignment (a
    rebalance during the measured phase would count as the service's latency)."""
    if len(fleet.replicas) > 1:
        await asyncio.sleep(5)


def _spawn(env: dict[str, str], log_path: Path) -> tuple[IO[bytes], subprocess.Popen[bytes]]:
    log = log_path.open("wb")
    command = [sys.executable, str(Path(__file__).with_name("stages.py"))]
    return log, subprocess.Popen(command, env=env, stdout=log, stderr=log)


async def _ready(port: int, process: subprocess.Popen[bytes]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(1800):
            if process.poll() is not None:
                raise RuntimeError("the fraud service exited during start-up")
            with contextlib.suppress(httpx.HTTPError):
                response = await client.get(f"http://127.0.0.1:{port}/health/ready")
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise TimeoutError("the fraud service did not become ready")


def _free_port() -> int:
    from devstack.ports import free_port

    return free_port()


def quality(labels: dict[str, bool], decisions: dict[str, str]) -> tuple[float, float]:
    tp = sum(1 for ref, fraud in labels.items() if fraud and decisions.get(ref) != "pass")
    fp = sum(1 for ref, fraud in labels.items() if not fraud and decisions.get(ref) != "pass")
    fn = sum(1 for ref, fraud in labels.items() if fraud and decisions.get(ref) == "pass")
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


@dataclass
class Measured:
    """One phase as the fleet measured it: each replica's stage timings, and the CPU the
    replicas together and Postgres used."""

    replicas: list[dict[str, Any]]
    cpu: Cpu = field(default_factory=Cpu)


@dataclass
class ServiceRun:
    at_rate: Phase
    saturated: Phase
    stages_at_rate: Measured
    stages_saturated: Measured
    labels: dict[str, bool]
    decisions: dict[str, str]


async def service_phases(
    database_url: str, bootstrap: str, replicas: int, folder: Path
) -> ServiceRun:
    """The fixed rate, then the burst, against a fleet of ``replicas`` (fresh accounts for
    each fleet: the phases' references carry its size)."""
    fixed = prepare(f"fixed{replicas}", 101, int(RATE * SECONDS))
    burst = prepare(f"burst{replicas}", 202, SATURATION)
    warm = prepare(f"warm{replicas}", 303, 20)
    async with fraud_fleet(database_url, bootstrap, replicas, folder) as service:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        scored = Scored(bootstrap, fetch_max_wait_ms=READER_WAIT_MS)
        await producer.start()
        await scored.start()
        try:
            sent = await offer(producer, warm.messages, None, scored, TICK)
            await scored.wait_for(list(sent.due), 120)
            await asyncio.to_thread(service.timings)  # start over after the warm-up
            cpu = service.cpu_seconds()
            with profiled(service.replicas[0].process.pid):
                sent = await offer(producer, fixed.messages, RATE, scored, TICK)
                await scored.wait_for(list(sent.due), 600)
            at_rate = measure(sent, scored)
            stages_at_rate = _spent(await asyncio.to_thread(service.timings), service, cpu)
            cpu = service.cpu_seconds()
            sent = await offer(producer, burst.messages, None, scored, TICK)
            await scored.wait_for(list(sent.due), 900)
            saturated = measure(sent, scored)
            stages_saturated = _spent(await asyncio.to_thread(service.timings), service, cpu)
        finally:
            await scored.stop()
            await producer.stop()
    labels = {**fixed.labels, **burst.labels}
    return ServiceRun(
        at_rate, saturated, stages_at_rate, stages_saturated, labels, scored.decisions
    )


def _spent(stages: list[dict[str, Any]], fleet: Fleet, since: Cpu) -> Measured:
    """A phase's figures: the replicas' timings and the CPU used since ``since``."""
    return Measured(stages, fleet.cpu_seconds() - since)


@contextlib.contextmanager
def profiled(pid: int) -> Iterator[None]:
    """With ``FRAUD_BENCH_PYSPY`` (a py-spy binary), sample the service while the block runs
    and write a flame graph next to its log."""
    binary = os.environ.get("FRAUD_BENCH_PYSPY")
    if not binary:
        yield
        return
    out = Path(tempfile.gettempdir()) / f"fraud-bench-{pid}.pyspy.txt"
    command = [binary, "record", "-p", str(pid), "-r", "100", "-f", "raw", "-o", str(out)]
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            spy.wait(timeout=30)
        print(f"(py-spy samples of the service at {RATE:,}/s: {out})", flush=True)


def print_stages(title: str, measured: Measured) -> None:
    """A phase's own timings, per replica: per stage, calls, total and p50/p99 per call; then
    the CPU per event of the replicas together, of Postgres, of the broker and of the bench
    process, and how many of the machine's cores they kept busy together."""
    several = len(measured.replicas) > 1
    for index, stages in enumerate(measured.replicas):
        _print_replica(f"{title}, replica {index + 1}" if several else title, stages)
    events = sum(stages.get("committed", {}).get("events", 0) for stages in measured.replicas)
    cpu = measured.cpu
    if not (cpu.service and events):
        return
    per_event = cpu.service / events * 1e6
    replicas = f" ({len(measured.replicas)} processes)" if several else ""
    print(
        f"  service CPU{replicas}: {cpu.service:.2f} s, {per_event:,.0f} µs per event "
        f"(one core: at most {1e6 / per_event:,.0f} events/s)",
        flush=True,
    )
    pg_per_event = cpu.postgres / events * 1e6
    print(
        f"  Postgres CPU: {cpu.postgres:.2f} s, {pg_per_event:,.0f} µs per "
        f"event; service + Postgres {per_event + pg_per_event:,.0f} µs per event",
        flush=True,
    )
    busy = cpu.service + cpu.postgres + cpu.broker + cpu.bench
    print(
        f"  broker CPU: {cpu.broker:.2f} s, {cpu.broker / events * 1e6:,.0f} µs per event; "
        f"bench process (producer, reader) {cpu.bench:.2f} s; all four kept "
        f"{busy / cpu.wall:.2f} of {os.cpu_count()} cores busy over {cpu.wall:.1f} s",
        flush=True,
    )


def _print_replica(title: str, stages: dict[str, Any]) -> None:
    committed = stages.get("committed", {})
    records = stages.get("records", {})
    print(
        f"{title}: {records.get('batches', 0):,} batches, "
        f"mean {records.get('mean', 0):,.1f} events (max {records.get('max', 0):,})",
        flush=True,
    )
    for stage in STAGES:
        figures = stages.get(stage)
        if figures:
            print(
                f"  {stage:<8} {figures['calls']:>7,} calls {figures['total_s']:>8.2f} s "
                f"p50 {figures['p50_ms']:8.2f} ms  p99 {figures['p99_ms']:8.2f} ms  "
                f"max {figures.get('max_ms', 0.0):8.2f} ms",
                flush=True,
            )
    if committed.get("events"):
        print(
            f"  event time → score committed: p50 {committed['p50_ms']:.1f} ms, "
            f"p99 {committed['p99_ms']:.1f} ms, max {committed['max_ms']:.1f} ms "
            f"({committed['events']:,} events)",
            flush=True,
        )


STAGES = (
    "fetch", "decode", "wait", "batch", "inbox", "load", "score", "write", "publish", "commit",
    "offsets", "gc", "lag",
)  # fmt: skip


async def main() -> None:
    print(
        f"== fraud: {RATE:,} events/s offered for {SECONDS:.0f} s, then {SATURATION:,} at once, "
        f"with {' then '.join(str(n) for n in REPLICAS)} replica(s), "
        f"fetch wait {FETCH_MAX_WAIT_MS} ms (reader {READER_WAIT_MS} ms), "
        f"producer batches of {LINGER_MS} ms =="
    )
    load_at_start = os.getloadavg()[0]  # the machine may be shared: figures are noisy
    with workspace() as folder, infrastructure(folder) as (database_url, brokers):
        size = len(prepare("size", 1, 50).messages[0][1])
        async with brokers.fresh() as bootstrap:
            raw_rate, raw_fixed = await raw_baseline(bootstrap, size, SATURATION, RATE)
        line("load average (1 min) when the run started", load_at_start, "")
        line("raw aiokafka produce→consume (saturated)", raw_rate, "events/s")
        line(f"raw aiokafka p50 latency at {RATE:,}/s", raw_fixed.p50_ms, "ms")
        line(f"raw aiokafka p99 latency at {RATE:,}/s", raw_fixed.p99_ms, "ms")
        for replicas in REPLICAS:
            async with brokers.fresh() as bootstrap:
                run = await service_phases(database_url, bootstrap, replicas, folder)
            print_run(run, replicas, raw_rate)
    line("load average (1 min) when the run ended", os.getloadavg()[0], "")
    offline = await evaluate(generate(7), feedback=True)
    line("evaluator precision with analyst feedback (seed 7)", offline.confusion.precision, "")
    line("evaluator recall with analyst feedback (seed 7)", offline.confusion.recall, "")
    print(f"recall by pattern: {json.dumps(offline.summary()['recall_by_pattern'])}")


def print_run(run: ServiceRun, replicas: int, raw_rate: float) -> None:
    """One fleet's figures; every line names the fleet's size."""
    at_rate, saturated = run.at_rate, run.saturated
    fleet = f"fraud ({replicas} replica{'s' if replicas > 1 else ''})"
    print(f"-- {fleet} --", flush=True)
    line(f"{fleet} load average (1 min) now", os.getloadavg()[0], "")
    line(
        f"{fleet} events offered at {RATE:,}/s (target {RATE * SECONDS:,.0f})",
        at_rate.count,
        "events",
    )
    line(
        f"{fleet} offered rate, open loop (target {RATE:,}/s)",
        at_rate.offered.sent_per_second,
        "events/s",
    )
    line(f"{fleet} producer behind its schedule at most", at_rate.offered.behind_max_s * 1000, "ms")
    line(f"{fleet} events scored at {RATE:,}/s offered", at_rate.scored_per_second, "events/s")
    line(
        f"{fleet} backlog (due, not scored) half-way at {RATE:,}/s",
        at_rate.backlog_at(0.5),
        "events",
    )
    line(
        f"{fleet} backlog (due, not scored) at the end at {RATE:,}/s",
        at_rate.backlog_at(1.0),
        "events",
    )
    line(
        f"{fleet} backlog growth over the second half at {RATE:,}/s",
        at_rate.backlog_trend(),
        "events/s",
    )
    line(f"{fleet} p50 event time→TransactionScored at {RATE:,}/s", at_rate.p50_ms, "ms")
    line(f"{fleet} p99 event time→TransactionScored at {RATE:,}/s", at_rate.p99_ms, "ms")
    print_stages(f"{fleet} stages at {RATE:,}/s", run.stages_at_rate)
    line(f"{fleet} events sent at once (target {SATURATION:,})", saturated.count, "events")
    line(f"{fleet} events scored at saturation", saturated.scored_per_second, "events/s")
    line(f"{fleet} p50 event time→TransactionScored at saturation", saturated.p50_ms, "ms")
    line(f"{fleet} p99 event time→TransactionScored at saturation", saturated.p99_ms, "ms")
    print_stages(f"{fleet} stages at saturation", run.stages_saturated)
    print(f"ratio {fleet} scored/raw (saturated): {saturated.scored_per_second / raw_rate:.3f}")
    precision, recall = quality(run.labels, run.decisions)
    # payments and transactions of one account travel on two topics, so their interleaving (and
    # these two figures) varies from run to run; the evaluator's figures below are exact
    line(f"{fleet} precision (rules, no feedback) on synthetic", precision, "")
    line(f"{fleet} recall (rules, no feedback) on synthetic", recall, "")


if __name__ == "__main__":
    uvloop.run(main())  # the services' event loop (uvicorn's): the bench's own share stays small
