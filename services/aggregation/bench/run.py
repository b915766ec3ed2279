"""Aggregation bench: transactions/s from the sandbox bank, through aggregation, to
`TransactionIngested` on Kafka — beside a raw aiokafka produce→consume rate of the same number
of messages of the same size, measured in the same run.

Standalone: reads DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS from the environment (``make bench``
starts a fresh embedded stack and sets them). It runs the sandbox bank as its own HTTP server,
gives one member a few thousand transactions per account, connects them through the real
consent flow and times one member refresh: agent pages over HTTP, minimisation,
reconciliation, Postgres and the outbox, then the relay until the last event is consumed. The
consent token sits in the in-memory vault (one read per refresh; the vault has its own bench).
Output lines are ``name: value unit``; it works in a throw-away schema it drops at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
from aggregation.adapters.vault_credentials import NoCredentialVault
from aggregation.app import create_app
from aggregation.service import connections, sync
from aggregation.service.context import Context
from aggregation.settings import AggregationSettings
from aiokafka import AIOKafkaConsumer
from common.events.aggregation import TransactionIngested
from common.logging import configure_logging
from common.runtime import Runtime
from devstack.baseline import raw_kafka_rate
from devstack.ports import free_port, wait_for_port

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
PER_ACCOUNT = int(os.environ.get("BENCH_TRANSACTIONS_PER_ACCOUNT", "2000" if QUICK else "8000"))
MEMBER_IP = "192.0.2.44"


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.1f} {unit}", flush=True)


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = os.environ | {
        "SANDBOX_BANK_HOST": "127.0.0.1",
        "SANDBOX_BANK_PORT": str(port),
        "SANDBOX_BANK_PAGE_SIZE": "100",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox_bank.main"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, timeout=30)
    return process, f"http://127.0.0.1:{port}"


async def connect(bank: httpx.AsyncClient, ctx: Context, member: str) -> uuid.UUID:
    """The real consent flow: consent at the agent, the member's SCA, our callback."""
    started = await connections.start_connection(ctx, member)
    answer = await bank.get(urlsplit(started.redirect_url).path)
    state = parse_qs(urlsplit(answer.headers["location"]).query)["state"][0]
    view = await connections.complete_callback(ctx, member, state, MEMBER_IP)
    connection_id: uuid.UUID = view.connection.connection_id
    return connection_id


async def consume_until(consumer: AIOKafkaConsumer, member: bytes, count: int) -> tuple[int, int]:
    """Read until `count` events of the member arrived; returns (events, total bytes)."""
    seen = size = 0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=500, max_records=5000)
        for records in batches.values():
            for record in records:
                if record.value is not None and member in record.value:
                    seen += 1
                    size += len(record.value)
    return seen, size


async def bench(database_url: str, bootstrap: str, agent_url: str) -> None:
    member = f"bench-{uuid.uuid4().hex[:10]}"
    schema = f"bench_aggregation_{uuid.uuid4().hex[:6]}"
    settings = AggregationSettings.model_validate(
        {
            "environment": "development",
            "database_url": database_url,
            "database_schema": schema,
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotent_producer": os.environ.get("KAFKA_IDEMPOTENT_PRODUCER", "false")
            == "true",
            "kafka_session_timeout_ms": 2000,
            "kafka_heartbeat_interval_ms": 300,
            "ref_key": "bench-reference-key-0123456789abcdef",
            "agent_base_url": agent_url,
            "consent_vault": "memory",
            "scheduler_enabled": False,
            "initial_sync": False,
            "member_refresh_interval_seconds": 0,
        }
    )
    async with httpx.AsyncClient(base_url=agent_url, timeout=120) as bank:
        generated = await bank.post(
            f"/sandbox/psus/{member}/generate", params={"count": PER_ACCOUNT}
        )
        generated.raise_for_status()
        accounts = await bank.get(f"/sandbox/psus/{member}/accounts")
        total = sum(a["transactionCount"] for a in accounts.json()["accounts"])
        app = create_app(settings, observability=False, credential_vault=NoCredentialVault())
        async with app.router.lifespan_context(app):
            runtime = app.state.runtime
            await asyncio.wait_for(runtime.kafka_connected.wait(), 60)
            ctx = app.state.container.ctx
            connection_id = await connect(bank, ctx, member)
            consumer = AIOKafkaConsumer(
                TransactionIngested.topic(),
                bootstrap_servers=bootstrap,
                group_id=f"bench-{schema}",
                auto_offset_reset="earliest",
                session_timeout_ms=2000,
                heartbeat_interval_ms=300,
            )
            await consumer.start()
            while not consumer.assignment():
                await consumer.getmany(timeout_ms=100)
            try:
                token = await ctx.vault.read(member, (await _vault_ref(runtime, connection_id)))
                started = time.perf_counter()
                fetched = 0
                for account in accounts.json()["accounts"]:
                    fetched += len(
                        await ctx.agent.transactions(
                            token, account["resourceId"], _since(ctx), MEMBER_IP
                        )
                    )
                fetch_seconds = time.perf_counter() - started
                started = time.perf_counter()
                report = await sync.refresh_connection(ctx, member, connection_id, MEMBER_IP)
                sync_seconds = time.perf_counter() - started
                seen, size = await consume_until(consumer, member.encode(), report.added)
                e2e_seconds = time.perf_counter() - started
                started = time.perf_counter()
                again = await sync.refresh_connection(ctx, member, connection_id, MEMBER_IP)
                resync_seconds = time.perf_counter() - started
            finally:
                await consumer.stop()
        await _drop(database_url, schema)
    assert report.added == total == seen == fetched, (report.added, total, seen, fetched)
    assert again.added == again.modified == 0
    listed = len(accounts.json()["accounts"])
    print(f"member with {listed} account(s), {total:,} transactions, pages of 100", flush=True)
    line("agent pages only (sandbox over HTTP, parse + minimise)", fetched / fetch_seconds, "tx/s")
    line("refresh: agent + reconcile + Postgres + outbox", total / sync_seconds, "tx/s")
    line("sandbox → aggregation → TransactionIngested consumed", total / e2e_seconds, "tx/s")
    line("incremental re-sync, nothing new (cursor minus overlap)", resync_seconds * 1000, "ms")
    raw = await raw_kafka_rate(bootstrap, total, max(1, size // max(1, seen)))
    line(f"raw aiokafka produce→consume ({size // max(1, seen)} B messages)", raw, "msg/s")
    print(f"ratio end-to-end/raw: {total / e2e_seconds / raw:.3f}", flush=True)


def _since(ctx: Context) -> date:
    return datetime.now(UTC).date() - timedelta(days=ctx.policy.history_days)


async def _vault_ref(runtime: Runtime, connection_id: uuid.UUID) -> str:
    ref: str = await runtime.db.fetchval(
        "SELECT vault_ref FROM connections WHERE connection_id = $1", connection_id
    )
    return ref


async def _drop(database_url: str, schema: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def main() -> int:
    database_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not database_url or not bootstrap:
        print("aggregation bench needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make bench)")
        return 2
    configure_logging("aggregation-bench", level=os.environ.get("LOG_LEVEL", "WARNING"))
    process, agent_url = start_sandbox()
    try:
        asyncio.run(bench(database_url, bootstrap, agent_url))
    finally:
        process.terminate()
        process.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
