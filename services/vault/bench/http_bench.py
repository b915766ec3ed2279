"""The vault over HTTP, as a service calls it: a real ``coffre-vault`` server process (same app,
same uvicorn settings) and the load client in another process (``http_client.py``).

In one run: the raw HTTP baselines (``POST /v1/bench/noop``, a FastAPI route, and
``/v1/bench/lean-noop``, a pure ASGI handler where the lean unwrap routes sit: same body, same
answer shape, same layers, no work) at each concurrency, then audited single unwraps at the same
concurrencies, then batch unwraps of each size in ``BENCH_HTTP_BATCH``; each with p50/p99, the
CPU per request of the server, the client and Postgres (all its processes), and its ratio to the
baselines; beside each, the requests really in flight on average (rate x mean
latency, Little's law), which shows the callers parameter changed what ran. Afterwards the
server's audit chain is verified and compared with the keys it answered (which shows the batch
size did). Needs DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS and SERVICE_TRUST_DIR (with the
archive's private key beside the public keys), as ``make bench`` sets them.

``BENCH_HTTP_REPLICAS`` (default ``1,2``) repeats all of it for each fleet size: that many
server processes on one schema (production runs two, ``deploy/k8s/services/vault.yaml``), the
client's connections shared out among them, each fleet on a fresh schema; CPU per request is the
fleet's together, and the chain check covers every replica's entries (one appender lease holder,
the others appending through the head row's lock). The py-spy pass runs for a fleet of one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import stages
from common.security.service_identity import ServiceTokenIssuer

HERE = Path(__file__).parent
SUBJECTS = 200
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    url: str

    def cpu_seconds(self) -> float:
        return _ticks(self.process.pid) / CLOCK_TICKS


@dataclass
class Fleet:
    """The vault's replicas for one fleet size: server processes sharing one schema."""

    servers: list[Server]
    schema: str

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    def cpu_seconds(self) -> float:
        return sum(server.cpu_seconds() for server in self.servers)


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _ticks(pid: int | str, *, children: bool = False) -> int:
    """utime + stime of a process (and of its children it has waited for)."""
    fields = _stat(pid)
    return sum(int(f) for f in fields[11 : 15 if children else 13])


def postgres_cpu_seconds() -> float | None:
    """CPU of the bench's Postgres: the postmaster with every backend it has reaped, plus its
    live children (``COFFRE_STATE_DIR`` as ``make bench`` sets it; None without it)."""
    pidfile = Path(os.environ.get("COFFRE_STATE_DIR", "/nonexistent"), "postgres", "pgdata",
                   "postmaster.pid")  # fmt: skip
    if not pidfile.exists():
        return None
    postmaster = int(pidfile.read_text().split()[0])
    total = _ticks(postmaster, children=True)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat(entry.name)[1]) == postmaster:
                total += _ticks(entry.name)
        except (OSError, IndexError):
            continue  # a backend that just exited is in the postmaster's children time
    return total / CLOCK_TICKS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_fleet(tmp: Path, replicas: int) -> Iterator[Fleet]:
    """``replicas`` vault server processes on one fresh schema, with the same KMS and anchor
    keys (and the schema's own anchors); the first migrates the schema before the others start,
    as a rollout would."""
    fleet = Fleet([], f"vault_bench_http_{uuid.uuid4().hex[:8]}")
    try:
        for _ in range(replicas):
            server = _start_server(tmp, fleet.schema)
            fleet.servers.append(server)
            _wait_live(server)
        yield fleet
    finally:
        for server in fleet.servers:
            server.process.send_signal(signal.SIGTERM)
        for server in fleet.servers:
            try:
                server.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()


def _start_server(tmp: Path, schema: str) -> Server:
    port = _free_port()
    env = os.environ | {
        "DATABASE_SCHEMA": schema,
        "VAULT_HTTP_PORT": str(port),
        "VAULT_KMS_KEY_FILE": str(tmp / "http-kms" / "master.key"),
        "VAULT_ANCHOR_KEY_FILE": str(tmp / "http-anchor" / "anchor.key"),
        # anchors are checkpoints of one chain: each fleet's schema has its own, or a fleet's
        # replicas would check the previous fleet's anchors against their empty chain
        "VAULT_ANCHOR_DIR": str(tmp / "http-anchor" / "checkpoints" / schema),
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen([sys.executable, str(HERE / "http_server.py")], env=env)
    return Server(process, port, f"http://127.0.0.1:{port}")


def _wait_live(server: Server, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the vault server exited with {server.process.returncode}")
        try:
            if httpx.get(f"{server.url}/health/live", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the vault server did not start in time")


def prepare(fleet: Fleet, issuer: ServiceTokenIssuer) -> list[tuple[str, str]]:
    """One document key per subject, unwrapped once on every replica: (subject, wrapped)."""
    made = []
    clients = [httpx.Client(base_url=server.url, timeout=30.0) for server in fleet.servers]
    try:
        for i in range(SUBJECTS):
            subject = f"member-{i:06d}"
            answer = clients[0].post(
                f"/v1/subjects/{subject}/data-keys",
                json={"purpose": "document"},
                headers=issuer.headers_for("vault"),
            )
            answer.raise_for_status()
            wrapped = answer.json()["wrapped"]
            for client in clients:  # each replica caches the subject's state, as in steady use
                client.post(
                    f"/v1/subjects/{subject}/data-keys/unwrap",
                    json={"purpose": "document", "wrapped": wrapped},
                    headers=issuer.headers_for("vault"),
                ).raise_for_status()
            made.append((subject, wrapped))
    finally:
        for client in clients:
            client.close()
    return made


def load(
    fleet: Fleet, callers: int, seconds: float, requests: list[list[str]], token: str
) -> dict[str, Any]:
    """Run the client process against the fleet; its result plus the fleet's CPU meanwhile."""
    plan = {
        "host": "127.0.0.1", "ports": fleet.ports, "callers": callers, "seconds": seconds,
        "requests": requests, "headers": {"authorization": f"Bearer {token}"},
    }  # fmt: skip
    cpu, pg = fleet.cpu_seconds(), postgres_cpu_seconds()
    done = subprocess.run(
        [sys.executable, str(HERE / "http_client.py")],
        input=json.dumps(plan).encode(), capture_output=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(done.stdout)
    result["server_cpu_seconds"] = fleet.cpu_seconds() - cpu
    after = postgres_cpu_seconds()
    result["postgres_cpu_seconds"] = None if pg is None or after is None else after - pg
    return result


def _line(label: str, result: dict[str, Any], unit: str, per_request: int = 1) -> float:
    done = result["done"]
    rate: float = done * per_request / result["elapsed"]
    bad = {k: v for k, v in result["statuses"].items() if k != "200"}
    in_flight = done / result["elapsed"] * result["mean_ms"] / 1e3  # Little's law
    pg = result["postgres_cpu_seconds"]
    print(
        f"{label}: {rate:,.0f} {unit} (p50 {result['p50_ms']:.1f} ms,"
        f" p99 {result['p99_ms']:.1f} ms; {in_flight:.1f} requests in flight on average;"
        f" CPU µs/request: server {1e6 * result['server_cpu_seconds'] / max(done, 1):,.0f},"
        f" client {1e6 * result['cpu_seconds'] / max(done, 1):,.0f}, postgres "
        + ("n/a" if pg is None else f"{1e6 * pg / max(done, 1):,.0f}")
        + ")"
        + (f" NON-200: {bad}" if bad else ""),
        flush=True,
    )
    return rate


def plans(made: list[tuple[str, str]], batches: list[int]) -> dict[str, list[list[str]]]:
    """The requests of each phase, built once: [method, path, JSON body]."""
    one = [(s, json.dumps({"purpose": "document", "wrapped": w})) for s, w in made]
    found = {
        "noop": [["POST", "/v1/bench/noop", body] for _, body in one],
        "lean-noop": [["POST", "/v1/bench/lean-noop", body] for _, body in one],
        "single": [["POST", f"/v1/subjects/{s}/data-keys/unwrap", body] for s, body in one],
    }
    for batch in batches:
        calls = []
        for start in range(0, 20 * batch, batch):
            items = [made[j % len(made)] for j in range(start, start + batch)]
            body = [{"subject": s, "purpose": "document", "wrapped": w} for s, w in items]
            calls.append(["POST", "/v1/data-keys/unwrap-batch", json.dumps({"batch_input": body})])
        found[f"batch {batch}"] = calls
    return found


def phases(
    fleet: Fleet, issuer: ServiceTokenIssuer, requests: dict[str, list[list[str]]],
    concurrencies: list[int], batch_callers: list[int], seconds: float, batches: list[int],
) -> tuple[dict[str, float], int]:  # fmt: skip
    """Every HTTP figure of one fleet, and how many keys it answered (beyond ``prepare``'s)."""
    figures: dict[str, float] = {}
    answered = 0
    http = f"http, {_replicas(fleet)},"
    for callers in concurrencies:
        rates = {}
        for name, label in (("noop", "no-op, FastAPI route"), ("lean-noop", "no-op, lean")):
            result = load(fleet, callers, seconds, requests[name], issuer.token_for("vault"))
            rates[name] = figures[f"{name} {callers}"] = _line(
                f"{http} {label} (raw baseline), {callers} callers", result, "requests/s"
            )
        result = load(fleet, callers, seconds, requests["single"], issuer.token_for("vault"))
        answered += result["statuses"].get("200", 0)
        rate = figures[f"single {callers}"] = _line(
            f"{http} single unwraps, {callers} callers", result, "unwraps/s"
        )
        print(f"  single unwraps / no-op at {callers} callers: {rate / rates['noop']:.2f}x"
              f" (FastAPI route), {rate / rates['lean-noop']:.2f}x (lean)")  # fmt: skip
    for batch in batches:
        for callers in batch_callers:
            token = issuer.token_for("vault")
            result = load(fleet, callers, seconds, requests[f"batch {batch}"], token)
            answered += result["statuses"].get("200", 0) * batch
            figures[f"batch{'' if batch == batches[0] else batch} {callers}"] = _line(
                f"{http} batch unwraps ({batch} keys per call), {callers} callers",
                result, "keys/s", batch,
            )  # fmt: skip
    return figures, answered


def _replicas(fleet: Fleet) -> str:
    count = len(fleet.servers)
    return f"{count} replica{'' if count == 1 else 's'}"


def profiled(
    server: Server, fleet: Fleet, issuer: ServiceTokenIssuer,
    requests: dict[str, list[list[str]]], callers: tuple[int, int], seconds: float, batch: int,
) -> int:  # fmt: skip
    """The same loads again under py-spy (not the figures above): the server's time by stage,
    single requests at the most callers, batches at the first batch concurrency. Only for a
    fleet of one: its CPU per request is that server's, which the samples are shares of."""
    answered = 0
    loads = [
        ("noop", callers[0], 0),
        ("lean-noop", callers[0], 0),
        ("single", callers[0], 1),
        (f"batch {batch}", callers[1], batch),
    ]
    keep = os.environ.get("BENCH_SPY_DIR")  # keep the raw py-spy recordings there
    with tempfile.TemporaryDirectory(prefix="vault-bench-spy-") as folder:
        for name, count, per_request in loads:
            recording = Path(keep or folder) / f"{name.replace(' ', '-')}.txt"
            spy = stages.start_recording(server.process.pid, seconds, recording)
            result = load(fleet, count, seconds, requests[name], issuer.token_for("vault"))
            if spy is not None:
                spy.wait()
            answered += result["statuses"].get("200", 0) * per_request
            cpu_us = 1e6 * result["server_cpu_seconds"] / max(result["done"], 1)
            stages.print_breakdown(
                f"server time per {name} request, {count} callers", recording, cpu_us
            )
    return answered


async def verify_server_chain(
    dsn: str, schema: str, kms_file: Path, answered: int, fleet: str
) -> None:
    """The fleet's audit chain walks clean and holds an allowed entry for every key answered."""
    from common.db.database import Database
    from common.db.uow import UnitOfWork
    from vault.adapters.kms import LocalFileKms
    from vault.adapters.pg_uow import pg_uow_factory
    from vault.bootstrap import build_context
    from vault.service import audit

    db = await Database.connect(dsn, schema, max_size=2, app="vault-bench")
    try:
        ctx = build_context(
            pg_uow_factory(lambda: UnitOfWork(db, producer="vault")), LocalFileKms(kms_file)
        )
        report = await audit.verify(ctx)
        allowed = await db.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE action = 'datakey.unwrap' AND outcome = 'allowed'"
        )
        status = "verified" if report.ok else f"BROKEN ({report.problem})"
        print(f"http, {fleet}: audit chain after the run: {status}, {report.checked:,} entries;")
        print(f"  allowed unwrap entries {allowed:,} for {answered:,} keys answered over HTTP")
        await ctx.appender.close()
    finally:
        await db.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await db.close()


def measure_http(
    dsn: str,
    tmp: Path,
    concurrencies: list[int],
    batch_callers: list[int],
    seconds: float,
    batches: list[int],
) -> dict[str, float]:
    """Each fleet size of ``BENCH_HTTP_REPLICAS`` in turn; figures of fleets of more than one
    replica are named with their size."""
    import asyncio

    trust = Path(os.environ["SERVICE_TRUST_DIR"])
    issuer = ServiceTokenIssuer.from_file("archive", trust / "archive.key.pem")
    sizes = [int(n) for n in os.environ.get("BENCH_HTTP_REPLICAS", "1,2").split(",")]
    figures: dict[str, float] = {}
    for size in sizes:
        print(f"load average before the HTTP runs: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        with running_fleet(tmp, size) as fleet:
            made = prepare(fleet, issuer)
            requests = plans(made, batches)
            found, answered = phases(
                fleet, issuer, requests, concurrencies, batch_callers, seconds, batches
            )
            answered += len(made) * size  # prepare's unwraps, one per subject and replica
            if size == 1:
                most = (max(concurrencies), batch_callers[0])
                answered += profiled(
                    fleet.servers[0], fleet, issuer, requests, most, seconds, batches[0]
                )
        print(f"load average after the HTTP runs: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        key_file = tmp / "http-kms" / "master.key"
        asyncio.run(verify_server_chain(dsn, fleet.schema, key_file, answered, _replicas(fleet)))
        prefix = "" if size == 1 else f"{_replicas(fleet)} "
        figures |= {f"{prefix}{name}": value for name, value in found.items()}
    return figures
