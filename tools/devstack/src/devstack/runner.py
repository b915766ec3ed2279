"""``make run``: the whole platform on one machine, on its embedded broker and Postgres.

Rules: it installs nothing itself (the Makefile does); it starts Postgres and the broker unless
``DATABASE_URL`` and ``KAFKA_BOOTSTRAP_SERVERS`` point at external ones; it generates each
service's identity key and the local KMS folder under the state folder (git-ignored), creates
every topic, runs every service's migrations, starts every service as its own process on its own
port, prints where each one is, and on Ctrl-C stops everything, services first.

The embedded broker keeps its log in a local S3 endpoint whose objects are mirrored under
``.state/s3/``, so a restart of the broker or of ``make run`` keeps topics, records and committed
offsets. The runner supervises the S3 endpoint, the broker and every service: whatever exits is
restarted with backoff and the runner says so; after a broker restart it creates any missing
topic again. The S3 endpoint is also every service's object store (``OBJECT_STORE_ENDPOINT_URL``).
Once every service is ready it also supervises the daily encrypted backup (``devstack.backup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from common.events import all_topics
from common.messaging.kafka import ensure_topics

from devstack.agent_keys import agent_credential_env
from devstack.identities import OPERATOR_IDENTITIES, ensure_identities
from devstack.kafka import EmbeddedKafka, EmbeddedS3
from devstack.layout import (
    DEFAULT_PORTS,
    SANDBOX_BANK_PORT,
    SMTP_PORT,
    ServiceSpec,
    discover_services,
    state_dir,
    venv_bin,
)
from devstack.ports import port_in_use
from devstack.postgres import EmbeddedPostgres
from devstack.supervisor import Child, Supervisor
from devstack.tsa import DEFAULT_TSA_PORT, DevTsa

PG_PORT = 55432
KAFKA_PORT = 59092
S3_PORT = 59900
READY_TIMEOUT = 180.0
SERVICE_STOP_SECONDS = 20.0
"""How long the services have, together, to stop after SIGTERM before the rest are killed."""


def infra_port(variable: str, default: int, offset: int) -> int:
    """An explicit ``COFFRE_DEV_*_PORT`` wins; otherwise the default shifted by the offset."""
    explicit = os.environ.get(variable)
    return int(explicit) if explicit else default + offset


class PortsBusy(RuntimeError):
    """A port the stack needs is taken by another process."""


def say(message: str) -> None:
    print(f"[coffre-dev] {message}", flush=True)


@dataclass
class DevStack:
    root: Path
    port_offset: int = 0
    postgres: EmbeddedPostgres | None = None
    kafka: EmbeddedKafka | None = None
    tsa: DevTsa | None = None
    s3: EmbeddedS3 | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    supervisor: Supervisor = field(default_factory=lambda: Supervisor(say))
    _output_threads: list[threading.Thread] = field(default_factory=list)
    database_url: str = ""
    bootstrap_servers: str = ""
    idempotent: bool = False

    @property
    def state(self) -> Path:
        return state_dir(self.root)

    def check_ports(self, services: list[ServiceSpec]) -> None:
        wanted = [("sandbox-bank", SANDBOX_BANK_PORT + self.port_offset)]
        wanted += [(s.name, s.port + self.port_offset) for s in services]
        if not os.environ.get("DATABASE_URL"):
            wanted.append(("postgres", infra_port("COFFRE_DEV_PG_PORT", PG_PORT, self.port_offset)))
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            wanted.append(
                ("kafka", infra_port("COFFRE_DEV_KAFKA_PORT", KAFKA_PORT, self.port_offset))
            )
        if not os.environ.get("OBJECT_STORE_ENDPOINT_URL"):
            wanted.append(("s3", infra_port("COFFRE_DEV_S3_PORT", S3_PORT, self.port_offset)))
        busy = [f"{name} ({port})" for name, port in wanted if port_in_use(port)]
        if busy:
            raise PortsBusy(
                "ports already in use: "
                + ", ".join(busy)
                + "; stop what holds them or pass --port-offset N"
            )

    def start_infrastructure(self) -> None:
        self.state.mkdir(parents=True, exist_ok=True)
        external_db = os.environ.get("DATABASE_URL")
        external_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if external_db:
            self.database_url = external_db
            say("Postgres: external (DATABASE_URL)")
        else:
            self.postgres = EmbeddedPostgres(
                self.state / "postgres", infra_port("COFFRE_DEV_PG_PORT", PG_PORT, self.port_offset)
            )
            started = time.monotonic()
            self.postgres.start()
            self.database_url = self.postgres.url
            elapsed = time.monotonic() - started
            say(f"Postgres 18 ready on 127.0.0.1:{self.postgres.port} in {elapsed:.1f} s")
        if not os.environ.get("OBJECT_STORE_ENDPOINT_URL"):
            self.start_object_store()
        if external_kafka:
            self.bootstrap_servers = external_kafka
            self.idempotent = os.environ.get("KAFKA_IDEMPOTENT_PRODUCER", "true") == "true"
            say("Kafka: external (KAFKA_BOOTSTRAP_SERVERS)")
        else:
            self.start_broker()
        self.create_topics()

    def start_object_store(self) -> None:
        """The local S3 endpoint, its objects mirrored under the state folder."""
        self.s3 = EmbeddedS3(
            infra_port("COFFRE_DEV_S3_PORT", S3_PORT, self.port_offset),
            data_dir=self.state / "s3",
            log_file=self.state / "s3.log",
        )
        s3 = self.s3
        s3.start()
        say(f"S3 endpoint (moto) ready on {s3.endpoint}, {s3.restored} objects restored")
        self.supervisor.add("s3", restarter(s3), child=s3)

    def start_broker(self) -> None:
        """tansu on the local S3 endpoint (memory storage when the object store is external)."""
        durable = self.s3 is not None
        self.kafka = EmbeddedKafka(
            infra_port("COFFRE_DEV_KAFKA_PORT", KAFKA_PORT, self.port_offset),
            log_file=self.state / "kafka.log",
            storage_url=f"s3://{self.s3.bucket}/" if self.s3 else "memory://tansu/",
            storage_env=self.s3.broker_env if self.s3 else {},
        )
        kafka = self.kafka
        kafka.start()
        self.bootstrap_servers = kafka.bootstrap_servers
        storage = "durable storage in .state/s3" if durable else "in-memory storage"
        say(
            f"Kafka-protocol broker (tansu) ready on {self.bootstrap_servers}, {storage} "
            f"(pid {kafka.pid})"
        )
        self.supervisor.add(
            "kafka", restarter(kafka), child=kafka, after_restart=self.create_topics
        )

    def create_topics(self) -> None:
        """Every topic of the event registry, with the partition count of the first creation."""
        created = asyncio.run(ensure_topics(self.bootstrap_servers, all_topics()))
        say(f"topics: {len(all_topics())} known, {len(created)} created")

    def service_env(self, spec_name: str, port: int) -> dict[str, str]:
        identity = self.state / "identity"
        return {
            **os.environ,
            "COFFRE_ENVIRONMENT": os.environ.get("COFFRE_ENVIRONMENT", "development"),
            "DATABASE_URL": self.database_url,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers,
            "KAFKA_IDEMPOTENT_PRODUCER": "true" if self.idempotent else "false",
            "HTTP_PORT": str(port),
            "SERVICE_IDENTITY_KEY_FILE": str(identity / f"{spec_name}.key.pem"),
            "SERVICE_TRUST_DIR": str(identity),
            "COFFRE_STATE_DIR": str(self.state),
            "VAULT_KMS_KEY_FILE": os.environ.get(
                "VAULT_KMS_KEY_FILE", str(self.state / "kms" / "master.key")
            ),
            # the vault's audit anchors belong to this stack's state, not to whatever
            # .state/vault the working directory holds (another stack's, or test runs')
            "VAULT_ANCHOR_KEY_FILE": os.environ.get(
                "VAULT_ANCHOR_KEY_FILE", str(self.state / "vault" / "anchor.key")
            ),
            "VAULT_ANCHOR_DIR": os.environ.get(
                "VAULT_ANCHOR_DIR", str(self.state / "vault" / "anchors")
            ),
            "LOG_JSON": os.environ.get("LOG_JSON", "true"),
            **(self.s3.client_env if self.s3 else {}),
        }

    def peer_urls(self, service: str, sandbox_port: int) -> dict[str, str]:
        """Where a service finds its peers when ports are shifted (unknown names are ignored)."""
        prefix = service.upper()
        auth = f"http://127.0.0.1:{DEFAULT_PORTS['auth'] + self.port_offset}"
        own = f"http://127.0.0.1:{DEFAULT_PORTS[service] + self.port_offset}"
        return {
            f"{prefix}_AUTH_JWKS_URL": f"{auth}/.well-known/jwks.json",
            f"{prefix}_VAULT_URL": f"http://127.0.0.1:{DEFAULT_PORTS['vault'] + self.port_offset}",
            f"{prefix}_AGENT_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
            f"{prefix}_BANK_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
            f"{prefix}_FRAUD_URL": f"http://127.0.0.1:{DEFAULT_PORTS['fraud'] + self.port_offset}",
            f"{prefix}_PUBLIC_BASE_URL": own,
            f"{prefix}_TSA_URL": f"http://127.0.0.1:{DEFAULT_TSA_PORT + self.port_offset}/",
            f"{prefix}_SMTP_PORT": str(SMTP_PORT + self.port_offset),
        }

    def start_services(self, services: list[ServiceSpec]) -> list[tuple[str, str]]:
        ensure_identities(self.state)
        (self.state / "kms").mkdir(mode=0o700, exist_ok=True)
        (self.state / "objects").mkdir(exist_ok=True)
        self.tsa = DevTsa(self.state / "pki", port=DEFAULT_TSA_PORT + self.port_offset).start()
        say(f"dev PKI in {self.state / 'pki'}; RFC 3161 TSA on {self.tsa.url}")
        endpoints: list[tuple[str, str]] = []
        sandbox_port = SANDBOX_BANK_PORT + self.port_offset
        agent_env, vault_pin = agent_credential_env(self.state)
        if Path(venv_bin("coffre-sandbox-bank")).exists():
            env = {**os.environ, "SANDBOX_BANK_PORT": str(sandbox_port), **agent_env}
            self._spawn("sandbox-bank", [venv_bin("coffre-sandbox-bank")], env)
            endpoints.append(("sandbox-bank", f"http://127.0.0.1:{sandbox_port}"))
        envs = {}
        for spec in services:
            port = spec.port + self.port_offset
            env = self.service_env(spec.name, port)
            env |= self.peer_urls(spec.name, sandbox_port)
            env |= vault_pin if spec.name == "vault" else {}
            envs[spec.name] = env
            endpoints.append((spec.name, f"http://127.0.0.1:{port}"))
        migrations = {
            spec.name: subprocess.Popen(
                [spec.command, "migrate"], env=envs[spec.name], cwd=self.root
            )
            for spec in services
        }
        failed = [name for name, proc in migrations.items() if proc.wait() != 0]
        if failed:
            raise RuntimeError(f"migrations failed for: {', '.join(failed)}")
        say(f"migrations applied for {len(services)} services")
        for spec in services:
            self._spawn(spec.name, [spec.command], envs[spec.name])
        return endpoints

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        """Start a supervised process whose output is prefixed with its name."""

        def start() -> subprocess.Popen[bytes]:
            process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.root,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.processes[name] = process
            thread = threading.Thread(target=_prefix_output, args=(name, process), daemon=True)
            thread.start()
            self._output_threads.append(thread)
            return process

        self.supervisor.add(name, start)

    def start_backups(self) -> None:
        """The daily encrypted backup (``coffre-dev backup --every``), supervised like a service;
        ``COFFRE_DEV_BACKUP_EVERY=off`` leaves it out."""
        every = os.environ.get("COFFRE_DEV_BACKUP_EVERY", "24h")
        if every != "off":
            argv = [venv_bin("coffre-dev"), "backup", "--every", every]
            self._spawn("backup", argv, self.service_env("backup", 0))
            say(f"daily backup every {every}; status in {self.state / 'backup' / 'status.json'}")

    def wait_ready(
        self, endpoints: list[tuple[str, str]], timeout: float = READY_TIMEOUT
    ) -> dict[str, bool]:
        """Poll every readiness route until all answer (a crashed service is being restarted
        meanwhile); the bound is generous because a loaded machine starts slowly."""
        deadline = time.monotonic() + timeout
        status = {name: False for name, _ in endpoints}
        while time.monotonic() < deadline and not all(status.values()):
            for name, url in endpoints:
                if status[name]:
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    status[name] = httpx.get(url + "/health/ready", timeout=2).status_code == 200
            time.sleep(0.3)
        return status

    def stop(self) -> None:
        """Stop services (all at once, killed if not stopped within ``SERVICE_STOP_SECONDS``),
        then the broker and Postgres; a second Ctrl-C cannot cut it short."""
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        self.supervisor.stop()
        for process in reversed(list(self.processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + SERVICE_STOP_SECONDS
        for name, process in self.processes.items():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it")
                process.kill()
        self.processes.clear()
        if self.tsa is not None:
            self.tsa.stop()
        for thread in self._output_threads:
            thread.join(timeout=5)
        if self.kafka is not None:
            self.kafka.stop()
        if self.s3 is not None:
            self.s3.stop()
        if self.postgres is not None:
            self.postgres.stop()
        say("stopped")


def restarter(component: EmbeddedKafka | EmbeddedS3) -> Callable[[], Child]:
    """Start ``component`` again and hand it back to the supervisor."""

    def start() -> Child:
        component.start()
        return component

    return start


def _prefix_output(name: str, process: subprocess.Popen[bytes]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        sys.stdout.write(f"{name:>12} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def stop_on_ctrl_c_and_sigterm() -> None:
    """Ctrl-C (SIGINT) and SIGTERM both interrupt the runner wherever it is (starting or
    running), which then stops everything. Installed explicitly: a process started as a
    background job of a script inherits SIGINT *ignored*, and Python keeps it ignored, so
    without this a runner started that way could never be stopped with SIGINT."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)


def run(root: Path, *, exit_when_ready: bool = False, port_offset: int = 0) -> int:
    stack = DevStack(root, port_offset=port_offset)
    stop_on_ctrl_c_and_sigterm()
    services = discover_services(root)
    try:
        stack.check_ports(services)
    except PortsBusy as exc:
        say(str(exc))
        return 1
    try:
        stack.start_infrastructure()
        endpoints = stack.start_services(services)
        status = stack.wait_ready(endpoints)
        stack.start_backups()
        say("Coffre is up:" if all(status.values()) else "some services are not ready yet:")
        say(f"  {'postgres':>12}  {stack.database_url.split('@')[-1]}")
        say(f"  {'kafka':>12}  {stack.bootstrap_servers}")
        for name, url in endpoints:
            mark = "ready" if status[name] else "NOT READY"
            say(f"  {name:>12}  {url}  ({mark}; API docs at {url}/docs)")
        if exit_when_ready:
            return 0 if all(status.values()) else 1
        operators = ", ".join(OPERATOR_IDENTITIES)
        say(f"operator identities: {operators} (coffre-dev token backoffice: a vault token)")
        say("press Ctrl-C to stop everything")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.stop()
