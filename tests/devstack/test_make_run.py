"""`make run` starts the whole platform on the embedded stack, the services work together as
real processes over real HTTP and Kafka, and Ctrl-C stops everything."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from coffre_testing.kafka import collect
from coffre_testing.runner_process import stop_with_ctrl_c, with_sigint_ignored
from coffre_testing.waiting import patient
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


def test_dev_runner_starts_every_service_and_stops_cleanly_on_ctrl_c(
    state_root: Path, service_port_offset: int
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")
    }
    pg_port, kafka_port, s3_port = free_port(), free_port(), free_port()
    offset = service_port_offset
    env |= {
        "COFFRE_STATE_DIR": str(state_root / "state"),
        "COFFRE_DEV_PG_PORT": str(pg_port),
        "COFFRE_DEV_KAFKA_PORT": str(kafka_port),
        # The journey's member enrols SMS minutes before paying a new payee: fraud rightly holds
        # that for an analyst (factor_change_payout). The journey follows the allow path, so it
        # lowers that one rule's weight through fraud's own setting.
        "FRAUD_RULE_WEIGHTS": '{"factor_change_payout": 0.1}',
        # The journey refreshes twice within a minute (before and after paying).
        "AGGREGATION_MEMBER_REFRESH_INTERVAL_SECONDS": "0",
        "COFFRE_DEV_S3_PORT": str(s3_port),
    }
    coffre_dev = Path(sys.executable).with_name("coffre-dev")
    process = subprocess.Popen(
        with_sigint_ignored([str(coffre_dev), "run", "--port-offset", str(offset)]),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = _Output(process)
    try:
        if output.wait_for("press Ctrl-C"):
            try:
                asyncio.run(member_journey(offset, f"127.0.0.1:{kafka_port}"))
                asyncio.run(payment_journey(offset))
            except AssertionError as failed:  # what the services said meanwhile tells why
                raise AssertionError(
                    f"{failed}\n--- runner output ---\n{output.text[-8000:]}"
                ) from failed
    finally:
        stop_with_ctrl_c(process, lambda: output.text)
        output.reader.join(timeout=30)
    text = output.text
    assert process.returncode == 0, text[-3000:]
    assert "Coffre is up:" in text
    assert "NOT READY" not in text
    assert "[coffre-dev] stopped" in text
    for service in ("auth", "vault", "aggregation", "fraud", "payments", "archive"):
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
            timeout=patient(60),
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
        assert (await http.post(f"{auth}/v1/accounts", json={"email": email})).status_code == 202
        mail = (await http.get(f"{auth}/v1/dev/mail", params={"to": email})).json()
        token = mail["messages"][-1]["link_token"]
        assert token, mail
        verified = await http.post(
            f"{auth}/v1/accounts/verify", json={"token": token, "password": password}
        )
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


PHONE = "+33612345000"


async def _sms_code(http: httpx.AsyncClient, auth: str) -> str:
    messages = (await http.get(f"{auth}/v1/dev/sms", params={"phone": PHONE})).json()["messages"]
    found = re.search(r"\b(\d{6})\b", messages[-1])
    assert found, messages
    return found.group(1)


async def _payment_session(http: httpx.AsyncClient, auth: str, email: str, password: str) -> str:
    """Log in, enrol an SMS factor, then log in again for the payment scope with the code."""
    login = await http.post(f"{auth}/v1/login", json={"email": email, "password": password})
    member = {"Authorization": f"Bearer {login.json()['tokens']['access_token']}"}
    phone = await http.post(f"{auth}/v1/factors/sms", json={"phone": PHONE}, headers=member)
    confirm = {"challenge_id": phone.json()["challenge_id"], "code": await _sms_code(http, auth)}
    confirmed = await http.post(f"{auth}/v1/factors/sms/confirm", json=confirm, headers=member)
    assert confirmed.status_code == 200, confirmed.text
    body = {"email": email, "password": password, "scope": "payment"}
    ticket = (await http.post(f"{auth}/v1/login", json=body)).json()["ticket"]
    await http.post(f"{auth}/v1/login/sms", json={"ticket": ticket})
    second = {"ticket": ticket, "method": "sms", "code": await _sms_code(http, auth)}
    signed_in = await http.post(f"{auth}/v1/login/second-factor", json=second)
    assert signed_in.status_code == 200, signed_in.text
    return str(signed_in.json()["access_token"])


async def payment_journey(offset: int) -> None:
    """The same member grants a payment consent at the bank, pays 25 EUR with a step-up SMS
    code bound to that amount and payee, fraud allows it, the bank executes it, and it appears
    in the member's synced transactions at aggregation."""
    auth = f"http://127.0.0.1:{DEFAULT_PORTS['auth'] + offset}"
    payments = f"http://127.0.0.1:{DEFAULT_PORTS['payments'] + offset}"
    aggregation = f"http://127.0.0.1:{DEFAULT_PORTS['aggregation'] + offset}"
    async with httpx.AsyncClient(timeout=30) as http:
        token = await _payment_session(
            http, auth, "journey@example.org", "correct horse battery staple 42!"
        )
        bearer = {"Authorization": f"Bearer {token}"}
        connections = (await http.get(f"{aggregation}/v1/connections", headers=bearer)).json()
        connection = connections["connections"][0]["connection_id"]
        me = (await http.get(f"{auth}/v1/me", headers=bearer)).json()
        sandbox = f"http://127.0.0.1:{SANDBOX_BANK_PORT + offset}"
        psu = me["user_id"]
        iban = (await http.get(f"{sandbox}/sandbox/psus/{psu}/accounts")).json()["accounts"][0]
        consent_body = {"debtor_iban": iban["iban"], "max_amount_per_payment": "500.00",
                        "periodic_limit": "1000.00"}  # fmt: skip
        started = await http.post(f"{payments}/v1/payment-consents", json=consent_body,
                                  headers=bearer)  # fmt: skip
        assert started.status_code == 201, started.text
        sca = await http.get(started.json()["redirect_url"])
        state = httpx.URL(sca.headers["location"]).params["state"]
        consent = await http.post(f"{payments}/v1/payment-consents/callback",
                                  json={"state": state}, headers=bearer)  # fmt: skip
        assert consent.json()["status"] == "active", consent.text
        creditor = {"name": "Camille Laurent", "iban": "DE89370400440532013000"}
        order = {"kind": "payment", "account_ref": consent.json()["account_ref"],
                 "amount": "25.00", "currency": "EUR", "remittance": "Journey 42",
                 "creditor": creditor}  # fmt: skip
        created = await http.post(f"{payments}/v1/payments", json=order,
                                  headers=bearer | {"Idempotency-Key": "journey-1"})  # fmt: skip
        assert created.status_code == 201, created.text
        operation = created.json()["operation"]
        challenge = await http.post(f"{auth}/v1/step-up/challenges", headers=bearer,
                                    json={"operation": operation, "method": "sms"})  # fmt: skip
        assert challenge.status_code == 201, challenge.text
        verified = await http.post(
            f"{auth}/v1/step-up/challenges/{challenge.json()['challenge_id']}/verify",
            json={"code": await _sms_code(http, auth)}, headers=bearer,
        )  # fmt: skip
        authorised = await http.post(
            f"{payments}/v1/payments/{operation['operation_id']}/authorise",
            json={"stepup_token": verified.json()["authorisation"]}, headers=bearer,
        )  # fmt: skip
        assert authorised.status_code == 200, authorised.text
        path = f"{payments}/v1/payments/{operation['operation_id']}"
        for _ in range(600):
            state_now = (await http.get(path, headers=bearer)).json()["state"]
            if state_now in ("executed", "rejected", "held"):
                break
            await asyncio.sleep(0.1)
        assert state_now == "executed"
        refreshed = await http.post(
            f"{aggregation}/v1/connections/{connection}/refresh", headers=bearer
        )
        assert refreshed.status_code == 200, refreshed.text
        amounts: list[str] = []
        cursor: str | None = None
        while True:
            params = {"limit": "500"} | ({"cursor": cursor} if cursor else {})
            page = (await http.get(f"{aggregation}/v1/transactions/sync", headers=bearer,
                                   params=params)).json()  # fmt: skip
            amounts += [t["amount"] for t in page["added"] + page["modified"]]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
        assert any(Decimal(a) == Decimal("-25.00") for a in amounts), amounts[:5]
