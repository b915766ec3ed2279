"""`make run` loses no event when its broker is SIGKILLed mid-ingest, restarts whatever crashes
(saying so), and keeps topics and committed offsets across a restart of the whole stack.

Real processes: the runner, the broker on its local S3 endpoint, Postgres and every service.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from coffre_testing.runner_process import stop_with_ctrl_c, with_sigint_ignored
from devstack.layout import DEFAULT_PORTS, SANDBOX_BANK_PORT
from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONS = 300
SCORED = "fraud.transaction-scored.v1"
COFFRE_DEV = str(Path(sys.executable).with_name("coffre-dev"))


@dataclass
class Stack:
    """One ``coffre-dev run`` process whose output is read all the time (never left to fill)."""

    env: dict[str, str]
    offset: int
    process: subprocess.Popen[str] | None = None
    lines: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.lines.clear()
        self.process = subprocess.Popen(
            with_sigint_ignored([COFFRE_DEV, "run", "--port-offset", str(self.offset)]),
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, args=(self.process,), daemon=True).start()
        self.wait_for("press Ctrl-C", timeout=600)

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, pattern: str, *, timeout: float = 120) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.output)
            if found:
                return found
            assert self.process is not None
            assert self.process.poll() is None, self.output[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not in the runner's output:\n{self.output[-3000:]}")

    def url(self, service: str) -> str:
        port = (DEFAULT_PORTS.get(service) or SANDBOX_BANK_PORT) + self.offset
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process is not None:
            stop_with_ctrl_c(self.process, lambda: self.output)
        self.wait_for_output_end()

    def wait_for_output_end(self) -> None:
        deadline = time.monotonic() + 10
        while "[coffre-dev] stopped" not in self.output and time.monotonic() < deadline:
            time.sleep(0.1)


@pytest.fixture
def stack(service_port_offset: int) -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="coffre-crash-test-"))
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    env |= {
        "COFFRE_STATE_DIR": str(folder / "state"),
        "COFFRE_DEV_PG_PORT": str(free_port()),
        "COFFRE_DEV_KAFKA_PORT": str(free_port()),
        "COFFRE_DEV_S3_PORT": str(free_port()),
    }
    running = Stack(env, service_port_offset)
    try:
        yield running
    finally:
        running.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_broker_killed_mid_ingest_loses_no_event_and_crashes_are_restarted(stack: Stack) -> None:
    stack.start()
    bootstrap = f"127.0.0.1:{stack.env['COFFRE_DEV_KAFKA_PORT']}"
    try:
        refs = asyncio.run(_ingest_with_a_broker_kill(stack, bootstrap))
    except AssertionError as failed:  # what the services said meanwhile tells why
        raise AssertionError(f"{failed}\n--- runner output ---\n{stack.output[-8000:]}") from failed
    assert len(refs) >= TRANSACTIONS
    stack.wait_for(r"kafka exited with code -9; restarting")  # the runner's output is read
    stack.wait_for(r"kafka restarted after [\d.]+ s down")  # by a thread: wait, never race it

    fraud_pid = _service_pid(stack.url("fraud"))
    os.kill(fraud_pid, signal.SIGKILL)
    stack.wait_for(r"fraud exited with code -9; restarting")
    assert httpx.get(stack.url("auth") + "/health/live", timeout=10).status_code == 200
    stack.wait_for(r"fraud restarted after")
    _wait_ready(stack.url("fraud"))

    stack.stop()
    assert stack.process is not None
    assert stack.process.returncode == 0, stack.output[-3000:]
    stack.start()
    restored = int(stack.wait_for(r"(\d+) objects restored").group(1))
    assert restored > 0
    print(f"[measure] restart of make run: {restored} S3 objects restored")
    assert "topics: " in stack.output
    assert re.search(r"topics: \d+ known, 0 created", stack.output), "topics must survive"
    kept = asyncio.run(_scored_refs(bootstrap, refs, timeout=600))
    assert kept >= refs, "scored events must survive a restart of make run"


async def _ingest_with_a_broker_kill(stack: Stack, bootstrap: str) -> set[str]:
    """Ingest TRANSACTIONS, SIGKILL the broker once fraud has scored some; wait for all."""
    async with httpx.AsyncClient(timeout=120) as http:
        bearer = await _member(http, stack.url("auth"))
        psu = "crash-test-psu"
        await http.post(
            f"{stack.url('sandbox-bank')}/sandbox/psus/{psu}/generate",
            params={"count": TRANSACTIONS},
        )
        connection = await _connect(http, stack.url("aggregation"), bearer, psu)
        scored: set[str] = set()
        watcher = asyncio.create_task(_watch_scored(bootstrap, scored))
        refresh = asyncio.create_task(
            http.post(
                f"{stack.url('aggregation')}/v1/connections/{connection}/refresh",
                headers=bearer,
            )
        )
        await _until(lambda: len(scored) >= 50, timeout=300)
        broker_pid = int(stack.wait_for(r"tansu\) ready on .*\(pid (\d+)\)").group(1))
        at_kill = len(scored)
        os.kill(broker_pid, signal.SIGKILL)
        killed = time.monotonic()
        assert (await refresh).status_code == 200
        refs = await _synced_refs(http, stack.url("aggregation"), bearer)
        await _until(lambda: refs <= scored, timeout=600)
        watcher.cancel()
        print(
            f"\n[measure] {len(refs)} ingested, {at_kill} scored when the broker was killed, "
            f"all scored {time.monotonic() - killed:.1f} s after the kill"
        )
        return refs


async def _watch_scored(bootstrap: str, scored: set[str]) -> None:
    """Collect every scored activity ref; reconnects by itself across the broker restart."""
    consumer = AIOKafkaConsumer(
        SCORED,
        bootstrap_servers=bootstrap,
        group_id=f"probe-{time.monotonic_ns()}",
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=500,
    )
    await consumer.start()
    try:
        while True:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                scored.update(json.loads(r.value)["payload"]["activity_ref"] for r in records)
    finally:
        await consumer.stop()


async def _scored_refs(bootstrap: str, wanted: set[str], timeout: float) -> set[str]:
    scored: set[str] = set()
    watcher = asyncio.create_task(_watch_scored(bootstrap, scored))
    with contextlib.suppress(AssertionError):
        await _until(lambda: wanted <= scored, timeout=timeout)
    watcher.cancel()
    return scored


async def _until(check: object, *, timeout: float) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.2)


async def _member(http: httpx.AsyncClient, auth: str) -> dict[str, str]:
    """Register as a member does: the address first, the password with the mailed link."""
    email, password = "crash@example.org", "correct horse battery staple 42!"
    assert (await http.post(f"{auth}/v1/accounts", json={"email": email})).status_code == 202
    mail = (await http.get(f"{auth}/v1/dev/mail", params={"to": email})).json()
    token = mail["messages"][-1]["link_token"]
    assert token, mail
    verified = await http.post(
        f"{auth}/v1/accounts/verify", json={"token": token, "password": password}
    )
    assert verified.status_code == 201, verified.text
    login = await http.post(f"{auth}/v1/login", json={"email": email, "password": password})
    return {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}


async def _connect(
    http: httpx.AsyncClient, aggregation: str, bearer: dict[str, str], psu: str
) -> str:
    started = await http.post(f"{aggregation}/v1/connections", headers=bearer, json={"psu_id": psu})
    assert started.status_code == 201, started.text
    sca = await http.get(started.json()["redirect_url"])
    state = httpx.URL(sca.headers["location"]).params["state"]
    callback = await http.post(
        f"{aggregation}/v1/connections/callback", headers=bearer, json={"state": state}
    )
    assert callback.json()["status"] == "active", callback.text
    return str(callback.json()["connection_id"])


async def _synced_refs(
    http: httpx.AsyncClient, aggregation: str, bearer: dict[str, str]
) -> set[str]:
    refs: set[str] = set()
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {}
        page = await _answered(
            partial(http.get, f"{aggregation}/v1/transactions/sync", headers=bearer, params=params)
        )
        refs |= {t["transaction_ref"] for t in page.json()["added"]}
        cursor = page.json()["next_cursor"]
        if not page.json()["has_more"]:
            return refs


async def _answered(
    call: Callable[[], Awaitable[httpx.Response]], timeout: float = 180
) -> httpx.Response:
    """The first 200 answer to ``call``: a service the runner is restarting after the broker's
    kill answers 503 (or not at all) for a while, which is not what the test is about."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            answer = await call()
            if answer.status_code == 200:
                return answer
            last = f"{answer.status_code} {answer.text[:300]}"
        except httpx.TransportError as exc:
            last = repr(exc)
        assert time.monotonic() < deadline, f"no 200 answer in {timeout} s: {last}"
        await asyncio.sleep(1)


def _service_pid(url: str) -> int:
    """The pid of the process listening on the service's port (from /proc, no extra tool)."""
    port = int(url.rsplit(":", 1)[1])
    inode = _listening_inode(port)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = [os.readlink(fd) for fd in (proc / "fd").iterdir()]
        except OSError:
            continue
        if f"socket:[{inode}]" in links:
            return int(proc.name)
    raise AssertionError(f"no process listens on {port}")


def _listening_inode(port: int) -> str:
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            return parts[9]
    raise AssertionError(f"nothing listens on {port}")


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health/ready", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url} not ready again")
