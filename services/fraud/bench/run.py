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
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from common.events import Envelope, Event
from common.events.aggregation import TransactionIngested
from common.events.fraud import TransactionScored
from common.events.payments import PaymentInitiated
from fraud.evaluation.evaluate import evaluate
from fraud.evaluation.scenarios import generate
from fraud.evaluation.synthetic import SyntheticEvent

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
RATE = int(os.environ.get("FRAUD_BENCH_RATE", "2000"))
SECONDS = float(os.environ.get("FRAUD_BENCH_SECONDS", "5" if QUICK else "10"))
SATURATION = int(os.environ.get("FRAUD_BENCH_SATURATION", "5000" if QUICK else "20000"))


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.2f} {unit}", flush=True)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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


class Scored:
    """Reads TransactionScored and records when each activity's score arrived."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(
            TransactionScored.topic(),
            bootstrap_servers=bootstrap,
            group_id=f"bench-scored-{uuid.uuid4().hex[:8]}",
            auto_offset_reset="earliest",
            session_timeout_ms=2000,
            heartbeat_interval_ms=300,
            max_poll_records=2000,
        )
        self.arrived: dict[str, float] = {}
        self.decisions: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()

    async def _read(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    payload = json.loads(record.value)["payload"]
                    self.arrived.setdefault(payload["activity_ref"], now)
                    self.decisions[payload["activity_ref"]] = payload["decision"]

    async def wait_for(self, refs: list[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if all(ref in self.arrived for ref in refs):
                return
            await asyncio.sleep(0.05)
        missing = sum(1 for ref in refs if ref not in self.arrived)
        raise TimeoutError(f"{missing} events were not scored within {timeout} s")


async def offer(
    producer: AIOKafkaProducer, messages: list[tuple[str, bytes, bytes, str]], rate: float | None
) -> dict[str, float]:
    """Send at ``rate`` events/s (None: as fast as possible); return each ref's send time."""
    sent: dict[str, float] = {}
    futures = []
    started = time.perf_counter()
    tick = 0.005
    for index, (topic, value, key, ref) in enumerate(messages):
        if rate is not None:
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > tick:
                await asyncio.sleep(delay)
        sent[ref] = time.perf_counter()
        futures.append(await producer.send(topic, value, key=key))
    await asyncio.gather(*futures)
    return sent


@dataclass
class Phase:
    scored_per_second: float
    p50_ms: float
    p99_ms: float
    offered_per_second: float
    count: int = 0


def measure(sent: dict[str, float], scored: Scored) -> Phase:
    latencies = [(scored.arrived[ref] - at) * 1000 for ref, at in sent.items()]
    first, last = min(sent.values()), max(scored.arrived[ref] for ref in sent)
    offered = len(sent) / max(max(sent.values()) - first, 1e-9)
    rate = len(sent) / (last - first)
    return Phase(rate, pct(latencies, 50), pct(latencies, 99), offered, len(sent))


async def raw_baseline(bootstrap: str, size: int, count: int, rate: float) -> tuple[float, Phase]:
    """aiokafka alone: saturated produce → consume rate, and latency at ``rate``."""
    topic = f"bench.fraud-raw-{uuid.uuid4().hex[:6]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{topic}",
        auto_offset_reset="earliest",
        session_timeout_ms=2000,
        heartbeat_interval_ms=300,
        max_poll_records=2000,
    )
    await producer.start()
    await consumer.start()
    arrived: dict[str, float] = {}

    async def read() -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    arrived.setdefault(record.key.decode(), now)

    reader = asyncio.create_task(read())
    try:
        await producer.send_and_wait(topic, b"warm-up", key=b"warm-up")
        await _until(lambda: "warm-up" in arrived)
        body = b"x" * size
        fixed = [(topic, body, f"f{i}".encode(), f"f{i}") for i in range(int(rate * SECONDS))]
        sent = await offer(producer, fixed, rate)
        await _until(lambda: all(ref in arrived for ref in sent))
        at_rate = _phase(sent, arrived)
        burst = [(topic, body, f"s{i}".encode(), f"s{i}") for i in range(count)]
        sent = await offer(producer, burst, None)
        await _until(lambda: all(ref in arrived for ref in sent))
        return _phase(sent, arrived).scored_per_second, at_rate
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await producer.stop()
        await consumer.stop()


def _phase(sent: dict[str, float], arrived: dict[str, float]) -> Phase:
    holder = Scored.__new__(Scored)
    holder.arrived = arrived
    return measure(sent, holder)


async def _until(check: Any, timeout: float = 300) -> None:
    deadline = time.perf_counter() + timeout
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("baseline messages did not all arrive")
        await asyncio.sleep(0.05)


@contextlib.contextmanager
def infrastructure() -> Iterator[tuple[str, str]]:
    database_url, bootstrap = (
        os.environ.get("DATABASE_URL"),
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
    )
    if database_url and bootstrap:
        yield database_url, bootstrap
        return
    from devstack.kafka import EmbeddedKafka
    from devstack.ports import free_port
    from devstack.postgres import EmbeddedPostgres

    base = Path(tempfile.mkdtemp(prefix="fraud-bench-"))
    postgres = EmbeddedPostgres(base / "postgres", free_port())
    kafka = EmbeddedKafka(free_port(), log_file=base / "kafka.log")
    postgres.start()
    kafka.start()
    try:
        print("(no DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS: started the embedded stack)")
        yield postgres.url, kafka.bootstrap_servers
    finally:
        kafka.stop()
        postgres.stop()


@contextlib.asynccontextmanager
async def fraud_service(database_url: str, bootstrap: str) -> AsyncIterator[None]:
    """The fraud service as its own process, in a throw-away schema, until it is ready."""
    port = _free_port()
    tag = uuid.uuid4().hex[:8]
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
        "HTTP_PORT": str(port),
        "LOG_LEVEL": os.environ.get("FRAUD_BENCH_LOG_LEVEL", "WARNING"),
        "LOG_JSON": "true",
    }
    log_path = Path(tempfile.gettempdir()) / f"fraud-bench-{tag}.log"
    log, process = await asyncio.to_thread(_spawn, env, log_path)
    try:
        await _ready(port, process)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _spawn(env: dict[str, str], log_path: Path) -> tuple[IO[bytes], subprocess.Popen[bytes]]:
    log = log_path.open("wb")
    command = [sys.executable, "-m", "fraud.entrypoints.main"]
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


async def service_phases(
    database_url: str, bootstrap: str
) -> tuple[Phase, Phase, dict[str, bool], dict[str, str]]:
    fixed = prepare("fixed", 101, int(RATE * SECONDS))
    burst = prepare("burst", 202, SATURATION)
    warm = prepare("warm", 303, 20)
    async with fraud_service(database_url, bootstrap):
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=2)
        scored = Scored(bootstrap)
        await producer.start()
        await scored.start()
        try:
            await scored.wait_for(list(await offer(producer, warm.messages, None)), 120)
            sent = await offer(producer, fixed.messages, RATE)
            await scored.wait_for(list(sent), 600)
            at_rate = measure(sent, scored)
            sent = await offer(producer, burst.messages, None)
            await scored.wait_for(list(sent), 900)
            saturated = measure(sent, scored)
        finally:
            await scored.stop()
            await producer.stop()
    return at_rate, saturated, {**fixed.labels, **burst.labels}, scored.decisions


async def main() -> None:
    print(
        f"== fraud: {RATE:,} events/s offered for {SECONDS:.0f} s, then {SATURATION:,} at once =="
    )
    load_at_start = os.getloadavg()[0]  # the machine may be shared: figures are noisy
    with infrastructure() as (database_url, bootstrap):
        size = len(prepare("size", 1, 50).messages[0][1])
        raw_rate, raw_fixed = await raw_baseline(bootstrap, size, SATURATION, RATE)
        at_rate, saturated, labels, decisions = await service_phases(database_url, bootstrap)
    line("load average (1 min) when the run started", load_at_start, "")
    line("load average (1 min) when the run ended", os.getloadavg()[0], "")
    line("raw aiokafka produce→consume (saturated)", raw_rate, "events/s")
    line(f"raw aiokafka p50 latency at {RATE:,}/s", raw_fixed.p50_ms, "ms")
    line(f"raw aiokafka p99 latency at {RATE:,}/s", raw_fixed.p99_ms, "ms")
    line(
        f"fraud events offered at {RATE:,}/s (target {RATE * SECONDS:,.0f})",
        at_rate.count,
        "events",
    )
    line(f"fraud offered rate (target {RATE:,}/s)", at_rate.offered_per_second, "events/s")
    line(f"fraud events scored at {RATE:,}/s offered", at_rate.scored_per_second, "events/s")
    line(f"fraud p50 publish→TransactionScored at {RATE:,}/s", at_rate.p50_ms, "ms")
    line(f"fraud p99 publish→TransactionScored at {RATE:,}/s", at_rate.p99_ms, "ms")
    line(f"fraud events sent at once (target {SATURATION:,})", saturated.count, "events")
    line("fraud events scored at saturation", saturated.scored_per_second, "events/s")
    line("fraud p50 publish→TransactionScored at saturation", saturated.p50_ms, "ms")
    line("fraud p99 publish→TransactionScored at saturation", saturated.p99_ms, "ms")
    print(f"ratio fraud scored/raw (saturated): {saturated.scored_per_second / raw_rate:.3f}")
    precision, recall = quality(labels, decisions)
    # payments and transactions of one account travel on two topics, so their interleaving (and
    # these two figures) varies from run to run; the evaluator's figures below are exact
    line("service precision (rules, no feedback) on synthetic", precision, "")
    line("service recall (rules, no feedback) on synthetic", recall, "")
    offline = await evaluate(generate(7), feedback=True)
    line("evaluator precision with analyst feedback (seed 7)", offline.confusion.precision, "")
    line("evaluator recall with analyst feedback (seed 7)", offline.confusion.recall, "")
    print(f"recall by pattern: {json.dumps(offline.summary()['recall_by_pattern'])}")


if __name__ == "__main__":
    asyncio.run(main())
