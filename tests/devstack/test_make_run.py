"""`make run` starts the whole platform on the embedded stack, the services work together as
real processes over real HTTP and Kafka, and Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from coffre_testing.kafka import collect
from devstack.layout import DEFAULT_PORTS, SANDBOX_BANK_PORT
from devstack.ports import free_port, port_in_use

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_root() -> Iterator[Path]:
    """A private folder (not pytest's shared tmp tree, which parallel runs may prune)."""
    folder = Path(tempfile.mkdtemp(prefix="coffre-run-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_dev_runner_starts_every_service_and_stops_cleanly_on_ctrl_c(state_root: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    pg_port, kafka_port, s3_port = free_port(), free_port(), free_port()
    offset = _free_service_offset()
    env |= {
        "COFFRE_STATE_DIR": str(state_root / "state"),
        "COFFRE_DEV_PG_PORT": str(pg_port),
        "COFFRE_DEV_KAFKA_PORT": str(kafka_port),
        "COFFRE_DEV_S3_PORT": str(s3_port),
    }
    coffre_dev = Path(sys.executable).with_name("coffre-dev")
    process = subprocess.Popen(
        [str(coffre_dev), "run", "--port-offset", str(offset)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process)
    try:
        if output.wait_for("press Ctrl-C"):
            asyncio.run(member_journey(offset, f"127.0.0.1:{kafka_port}"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=180)
        output.reader.join(timeout=30)
    text = output.text
    assert process.returncode == 0, text[-3000:]
    assert "Coffre is up:" in text
    assert "NOT READY" not in text
    assert "[coffre-dev] stopped" in text
    for service in ("auth", "vault", "aggregation", "fraud"):
        if (ROOT / "services" / service / "src" / service / "entrypoints" / "main.py").exists():
            assert f"{service:>12}  http://127.0.0.1:{DEFAULT_PORTS[service] + offset}" in text
    ports = [pg_port, kafka_port, s3_port, *(p + offset for p in DEFAULT_PORTS.values())]
    assert not [p for p in ports if port_in_use(p)], "everything must be stopped"
    identity = state_root / "state" / "identity"
    assert (identity / "vault.pub.pem").exists()
    assert (identity / "vault.key.pem").stat().st_mode & 0o777 == 0o600


class _Output:
    """Reads the runner's output all the time: a pipe left unread fills up and freezes the
    runner's output threads and then the services that log through them."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, marker: str, timeout: float = 400) -> bool:
        """True once ``marker`` was printed; False if the runner exited first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.text:
                return True
            if self.process.poll() is not None:
                self.reader.join(timeout=10)
                return marker in self.text
            time.sleep(0.1)
        return False


def _free_service_offset() -> int:
    for offset in range(20_000, 40_000, 97):
        ports = [p + offset for p in (*DEFAULT_PORTS.values(), SANDBOX_BANK_PORT)]
        if not any(port_in_use(p) for p in ports):
            return offset
    raise RuntimeError("no free block of service ports")


def test_runner_refuses_to_start_on_a_busy_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        busy = holder.getsockname()[1]
        env = dict(os.environ) | {
            "COFFRE_STATE_DIR": str(tmp_path / "state"),
            "COFFRE_DEV_PG_PORT": str(busy),
        }
        env.pop("DATABASE_URL", None)
        result = subprocess.run(
            [str(Path(sys.executable).with_name("coffre-dev")), "run", "--exit-when-ready"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"postgres ({busy})" in result.stdout


async def member_journey(offset: int, bootstrap: str) -> None:
    """Register and log in at auth, connect a bank through aggregation (consent token kept by
    the vault), sync transactions, and see fraud score them on Kafka."""
    auth = f"http://127.0.0.1:{DEFAULT_PORTS['auth'] + offset}"
    aggregation = f"http://127.0.0.1:{DEFAULT_PORTS['aggregation'] + offset}"
    email, password = "journey@example.org", "correct horse battery staple 42!"
    async with httpx.AsyncClient(timeout=30) as http:
        assert (
            await http.post(f"{auth}/v1/accounts", json={"email": email, "password": password})
        ).status_code == 202
        mail = (await http.get(f"{auth}/v1/dev/mail", params={"to": email})).text
        token = re.search(r"valid 24 hours\): ([A-Za-z0-9_-]+)", mail)
        assert token, mail
        verified = await http.post(f"{auth}/v1/accounts/verify", json={"token": token.group(1)})
        assert verified.status_code == 201
        login = await http.post(f"{auth}/v1/login", json={"email": email, "password": password})
        bearer = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
        started = await http.post(f"{aggregation}/v1/connections", headers=bearer, json={})
        assert started.status_code == 201, started.text
        sca = await http.get(started.json()["redirect_url"])
        state = httpx.URL(sca.headers["location"]).params["state"]
        callback = await http.post(
            f"{aggregation}/v1/connections/callback", headers=bearer, json={"state": state}
        )
        assert callback.json()["status"] == "active", callback.text
        connection = callback.json()["connection_id"]
        refreshed = await http.post(
            f"{aggregation}/v1/connections/{connection}/refresh", headers=bearer
        )
        assert refreshed.status_code == 200, refreshed.text
        refs: set[str] = set()
        cursor: str | None = None
        while True:
            page = await http.get(
                f"{aggregation}/v1/transactions/sync",
                headers=bearer,
                params={"cursor": cursor} if cursor else {},
            )
            refs |= {t["transaction_ref"] for t in page.json()["added"]}
            cursor = page.json()["next_cursor"]
            if not page.json()["has_more"]:
                break
        assert refs, "the sandbox bank must have given transactions"
        accounts = {a["account_ref"].encode() for a in callback.json()["accounts"]}
    scored = await collect(
        bootstrap,
        "fraud.transaction-scored.v1",
        count=len(refs),
        timeout=60,
        where=lambda record: any(ref in record.value for ref in accounts),
    )
    scored_refs = {ref for ref in refs for record in scored if ref.encode() in record.value}
    assert scored_refs == refs, "fraud must score every ingested transaction"
