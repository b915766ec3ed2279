"""The archive SIGKILLed at the worst moments of an intake loses nothing and does nothing twice.

Real processes: `coffre-vault` and `coffre-archive` over HTTP, on the test session's broker and
Postgres, moto's S3 server and the dev TSA. The archive kills itself at a named point
(`ARCHIVE_FAULT_KILL_AT`, deterministic): right after the upload is committed, before anything
is stored (a seal started at intake dies with the process); and after both objects are written
to the store, before the transaction that records them. Restarted without the hook, it answers
the client's retry under the same Idempotency-Key with that receipt and finishes it exactly
once: one receipt, one sealed and one original version in the store, one `ReceiptUploaded` and
one `ReceiptSealed` (one event id each: delivery is at least once), one journal entry of each
kind, the chain whole, nothing in clear anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import boto3
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from archive.adapters.pg_journal import PgJournal
from archive.domain.journal import verify_chain
from archive_it_helpers import MemberTokens, jpeg
from coffre_testing.stores import S3Endpoint, TsaEndpoint
from coffre_testing.waiting import until
from common.events.archive import ReceiptSealed, ReceiptUploaded
from devstack.ports import free_port

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.asyncio,
    pytest.mark.timeout(600),
]
BIN = Path(sys.executable).parent


@dataclass
class Process:
    """One service process; its output goes to a file read on failure."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    url: str
    proc: subprocess.Popen[bytes] | None = None

    def start(self, **extra: str) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, env=self.env | extra, stdout=out, stderr=subprocess.STDOUT
            )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-12000:]

    def wait_ready(self, timeout: float = 180) -> None:
        deadline, last = time.monotonic() + timeout, "no answer"
        while time.monotonic() < deadline:
            assert self.proc is not None
            assert self.proc.poll() is None, f"{self.name} exited:\n{self.tail()}"
            try:
                answer = httpx.get(f"{self.url}/health/ready", timeout=5)
                if answer.status_code == 200:
                    return
                last = answer.text[:500]
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        assert self.proc is not None
        self.proc.send_signal(signal.SIGABRT)  # PYTHONFAULTHANDLER: every thread's stack
        self.proc.wait(timeout=20)
        raise AssertionError(f"{self.name} not ready ({last}):\n{self.tail()}")

    def wait_killed(self, timeout: float = 60) -> None:
        assert self.proc is not None
        code = self.proc.wait(timeout=timeout)
        assert code == -signal.SIGKILL, f"{self.name} exited with {code}:\n{self.tail()}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def _common_env(infra: Any, schema: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "COFFRE_ENVIRONMENT": "test",
        "DATABASE_URL": infra.database_url,
        "DATABASE_SCHEMA": schema,
        "KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
        "KAFKA_IDEMPOTENT_PRODUCER": "true" if infra.idempotent_producer else "false",
        "KAFKA_SESSION_TIMEOUT_MS": "2000",
        "KAFKA_HEARTBEAT_INTERVAL_MS": "300",
        "RELAY_LEASE_SECONDS": "3",
        "HTTP_PORT": str(port),
        "LOG_JSON": "true",
        "PYTHONUNBUFFERED": "1",
        "PYTHONFAULTHANDLER": "1",
    }


@dataclass
class Services:
    vault: Process
    archive: Process
    bucket: str
    schema: str


@pytest.fixture
def services(
    infra: Any, schema_name: str, s3_endpoint: S3Endpoint, dev_tsa: TsaEndpoint,
    identity_dir: Path, tokens: MemberTokens, tmp_path: Path,
) -> Iterator[Services]:  # fmt: skip
    vault_port, archive_port = free_port(), free_port()
    vault_env = _common_env(infra, f"{schema_name}_vault", vault_port) | {
        "SERVICE_TRUST_DIR": str(identity_dir / "trust"),
        "VAULT_KMS_KEY_FILE": str(tmp_path / "kms" / "master.key"),
        "VAULT_ANCHOR_KEY_FILE": str(tmp_path / "vault" / "anchor.key"),
        "VAULT_ANCHOR_DIR": str(tmp_path / "vault" / "anchors"),
        "VAULT_CONSUMER_GROUP": f"vault-{uuid.uuid4().hex[:8]}",
    }
    pki, bucket = dev_tsa.pki, f"receipts-{uuid.uuid4().hex[:12]}"
    archive_env = _common_env(infra, schema_name, archive_port) | {
        "ARCHIVE_HTTP_PORT": str(archive_port),
        "SERVICE_IDENTITY_KEY_FILE": str(identity_dir / "archive.key.pem"),
        "ARCHIVE_VAULT_URL": f"http://127.0.0.1:{vault_port}",
        "ARCHIVE_AUTH_JWKS_JSON": tokens.jwks_json,
        "ARCHIVE_S3_ENDPOINT_URL": s3_endpoint.url,
        "ARCHIVE_S3_ACCESS_KEY_ID": s3_endpoint.access_key_id,
        "ARCHIVE_S3_SECRET_ACCESS_KEY": s3_endpoint.secret_access_key,
        "ARCHIVE_S3_REGION": s3_endpoint.region,
        "ARCHIVE_S3_BUCKET": bucket,
        "ARCHIVE_TSA_URL": dev_tsa.url,
        "ARCHIVE_SEAL_CERT_FILE": str(pki.seal_cert),
        "ARCHIVE_SEAL_KEY_FILE": str(pki.seal_key),
        "ARCHIVE_SEAL_CHAIN_FILES": json.dumps([str(pki.root_cert)]),
        "ARCHIVE_SEAL_TRUST_ROOTS": json.dumps([str(pki.root_cert)]),
        "ARCHIVE_SEAL_CRL_FILES": json.dumps([str(pki.crl)]),
        "ARCHIVE_SMTP_ENABLED": "false",
        "ARCHIVE_SCHEDULER_ENABLED": "true",
        "ARCHIVE_SCHEDULER_INTERVAL_SECONDS": "0.5",
        "ARCHIVE_SWEEP_SAMPLE_SIZE": "0",
        "ARCHIVE_CONSUMER_GROUP": f"archive-{uuid.uuid4().hex[:8]}",
    }
    found = Services(
        Process("vault", [str(BIN / "coffre-vault")], vault_env, tmp_path / "vault.log",
                f"http://127.0.0.1:{vault_port}"),
        Process("archive", [str(BIN / "coffre-archive")], archive_env, tmp_path / "archive.log",
                f"http://127.0.0.1:{archive_port}"),
        bucket,
        schema_name,
    )  # fmt: skip
    try:
        found.vault.start()
        found.vault.wait_ready()
        yield found
    finally:
        found.archive.stop()
        found.vault.stop()


def _versions(s3: S3Endpoint, bucket: str) -> list[dict[str, Any]]:
    client = boto3.client(
        "s3", endpoint_url=s3.url, region_name=s3.region,
        aws_access_key_id=s3.access_key_id, aws_secret_access_key=s3.secret_access_key,
    )  # fmt: skip
    listed = client.list_object_versions(Bucket=bucket).get("Versions", [])
    for version in listed:
        body = client.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        version["body"] = body["Body"].read()
    return list(listed)


async def _events(bootstrap: str, topic: str, key: str) -> set[str]:
    """The event ids of the events with this key the topic holds (read from the start, no group).

    Delivery is at least once: a process killed after the broker took a record but before its
    outbox row was marked sent sends that record again after the restart, with the same event id
    (consumers deduplicate on it). "Once" therefore means one event id, not one record.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        # the broker's topics now (one round trip, which also lets the consumer's own start-up
        # task run: stopping it before that raises CancelledError out of stop())
        if topic not in await consumer.topics():
            return set()  # not made yet (it is made on first publish): nothing published
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:  # the client's metadata is older than the topic: the next probe sees it
            return set()
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        ids: set[str] = set()
        while [p for p in parts if await consumer.position(p) < ends[p]]:
            batch = await consumer.getmany(*parts, timeout_ms=1000)
            ids |= {
                json.loads(m.value)["event_id"]
                for msgs in batch.values()
                for m in msgs
                if m.key == key.encode() and m.value is not None
            }
        return ids
    finally:
        await consumer.stop()


def _in_clear(blob: bytes, original: bytes) -> bool:
    return blob.startswith((b"%PDF", b"\xff\xd8")) or b"%PDF-" in blob or original[:64] in blob


@pytest.mark.parametrize("point", ["after-intake", "after-store"])
async def test_a_receipt_survives_a_sigkill_and_completes_exactly_once(
    point: str, services: Services, infra: Any, s3_endpoint: S3Endpoint, tokens: MemberTokens
) -> None:
    member, original, key = str(uuid.uuid4()), jpeg(), str(uuid.uuid4())
    archive = services.archive
    archive.start(ARCHIVE_FAULT_KILL_AT=point)
    archive.wait_ready()
    with pytest.raises(httpx.TransportError):  # the process dies under the request
        httpx.post(
            f"{archive.url}/v1/receipts",
            files={"file": ("r.jpg", original, "image/jpeg")},
            headers=tokens.headers(member) | {"Idempotency-Key": key},
            timeout=60,
        )
    archive.wait_killed()

    db = await asyncpg.connect(infra.database_url, server_settings={"search_path": services.schema})
    try:
        [row] = await db.fetch("SELECT receipt_id, status FROM receipts WHERE user_id = $1", member)
        receipt_id = str(row["receipt_id"])
        assert row["status"] == "received"
        staged = [bytes(r["blob"]) for r in await db.fetch("SELECT blob FROM staged_objects")]
        assert len(staged) == 2
        assert not any(_in_clear(blob, original) for blob in staged)
        before = _versions(s3_endpoint, services.bucket)
        assert len(before) == (2 if point == "after-store" else 0)

        archive.start()
        archive.wait_ready()
        headers = tokens.headers(member)
        async with httpx.AsyncClient(base_url=archive.url, timeout=30) as client:
            # the client never got its answer and sends the upload again under its key
            retried = await client.post(
                "/v1/receipts",
                files={"file": ("r.jpg", original, "image/jpeg")},
                headers=headers | {"Idempotency-Key": key},
            )
            assert retried.status_code in (201, 202), retried.text
            assert retried.headers["Idempotent-Replayed"] == "true"
            assert retried.json()["receipt_id"] == receipt_id

            async def sealed() -> dict[str, Any] | None:
                listed = (await client.get("/v1/receipts", headers=headers)).json()["receipts"]
                return listed[0] if listed and listed[0]["status"] == "sealed" else None

            receipt = await until(sealed, timeout=120)
            listed = (await client.get("/v1/receipts", headers=headers)).json()["receipts"]
            assert [r["receipt_id"] for r in listed] == [receipt_id]
            document = await client.get(f"/v1/receipts/{receipt_id}", headers=headers)
            assert hashlib.sha256(document.content).hexdigest() == receipt["sealed_sha256"]
            report = (
                await client.get(f"/v1/receipts/{receipt_id}/verification", headers=headers)
            ).json()
            assert report["ok"], report

        stored = _versions(s3_endpoint, services.bucket)
        keys = sorted(v["Key"] for v in stored)
        assert keys == [f"receipts/{receipt_id}/original", f"receipts/{receipt_id}/sealed"]
        if point == "after-store":  # the versions written before the kill were adopted
            assert {v["VersionId"] for v in stored} == {v["VersionId"] for v in before}
        assert not any(_in_clear(v["body"], original) for v in stored)
        assert await db.fetchval("SELECT count(*) FROM staged_objects") == 0

        entries = await PgJournal(db).entries()
        assert verify_chain(entries) is None
        actions = sorted(e.action for e in entries if e.receipt_id == receipt_id)
        assert actions.count("received") == 1
        assert actions.count("sealed-and-stored") == 1
    finally:
        await db.close()

    async def published_once() -> bool:
        uploaded = await _events(infra.bootstrap_servers, ReceiptUploaded.topic(), receipt_id)
        sealed_ = await _events(infra.bootstrap_servers, ReceiptSealed.topic(), receipt_id)
        assert len(uploaded) <= 1, uploaded
        assert len(sealed_) <= 1, sealed_
        return len(uploaded) == 1 and len(sealed_) == 1

    await until(published_once, timeout=60)
