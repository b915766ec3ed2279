"""Payments bench: payments/s from authorisation to ``executed``, and p50/p99 of authorise →
fraud decision → bank submission, beside a raw aiokafka produce→consume rate of the same number
of messages measured in the same run.

Standalone: reads DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (``make bench`` starts a fresh
embedded stack and sets them). Runs the real vault and fraud apps and the sandbox bank in
process (httpx over ASGI) beside payments: every payment goes authorise (step-up verified) →
``PaymentInitiated`` through the outbox and Kafka → fraud scores it → ``TransactionScored``
back through Kafka → the worker submits it to the bank with its stable request id → status
polled until ``ACSC``. ``BENCH_PAYMENTS`` (default 300, quick 80) payments over
``BENCH_MEMBERS`` (10) members. Output lines are ``name: value unit``; its schemas are dropped.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from common.events import Envelope, all_topics
from common.events.aggregation import TransactionIngested
from common.events.auth import UserRegistered
from common.events.fraud import PaymentHoldResolved, TransactionScored
from common.events.payments import PaymentInitiated
from common.logging import configure_logging
from common.messaging.kafka import ensure_topics
from common.security.access_tokens import AccessTokenVerifier, JwksCache, StaticJwksSource
from common.security.service_identity import ServiceTokenVerifier, generate_identity
from common.security.stepup import Operation, operation_digest
from devstack.backbone_bench import place_group_at_end
from devstack.baseline import raw_kafka_rate
from fraud.entrypoints.app import create_app as create_fraud_app
from fraud.settings import FraudSettings
from joserfc import jwt
from joserfc.jwk import OKPKey
from payments.app import create_app
from payments.service import consents
from payments.service.create import Requester, create_payment
from payments.service.drafts import PaymentInput
from payments.service.payments import authorise_payment
from payments.settings import PaymentsSettings
from sandbox_bank.app import create_app as create_sandbox_app
from sandbox_bank.settings import SandboxSettings
from vault.entrypoints.app import create_app as create_vault_app
from vault.settings import VaultSettings

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
PAYMENTS = int(os.environ.get("BENCH_PAYMENTS", "80" if QUICK else "300"))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "10"))
ISSUER = "https://auth.coffre.local"
CREDITOR = "DE89370400440532013000"


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.1f} {unit}", flush=True)


class Signer:
    def __init__(self) -> None:
        self.key = OKPKey.generate_key("Ed25519", parameters={"kid": "bench", "use": "sig"})
        self.jwks = {"keys": [self.key.as_dict(private=False)]}

    def stepup(self, user_id: str, op: dict[str, Any]) -> str:
        digest = operation_digest(Operation(**op))
        now = int(time.time())
        claims = {"iss": ISSUER, "aud": "coffre-stepup", "sub": user_id, "jti": str(uuid.uuid4()),
                  "iat": now, "exp": now + 300, "opd": digest}  # fmt: skip
        header = {"alg": "Ed25519", "kid": "bench", "typ": "stepup+jwt"}
        return jwt.encode(header, claims, self.key, algorithms=["Ed25519"])


def _common(database_url: str, bootstrap: str, schema: str) -> dict[str, Any]:
    return {
        "environment": "development", "database_url": database_url, "database_schema": schema,
        "kafka_bootstrap_servers": bootstrap, "kafka_idempotent_producer": False,
        "kafka_session_timeout_ms": 2000, "kafka_heartbeat_interval_ms": 300,
    }  # fmt: skip


async def consent_for(ctx: Any, bank: httpx.AsyncClient, user_id: str) -> str:
    psu = f"psu-{user_id[:8]}"
    accounts = await bank.get(f"/sandbox/psus/{psu}/accounts")
    iban = accounts.json()["accounts"][0]["iban"]
    terms = consents.ConsentTerms(iban, "EUR", "500", "900000", "month", None, psu)
    started = await consents.start_consent(ctx, user_id, terms)
    answer = await bank.get(httpx.URL(started.redirect_url).path)
    state = httpx.URL(answer.headers["location"]).params["state"]
    done = await consents.complete_callback(ctx, user_id, state)
    return done.account_ref


async def run(database_url: str, bootstrap: str, folder: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    schemas = [f"bench_payments_{tag}", f"bench_pvault_{tag}", f"bench_pfraud_{tag}"]
    generate_identity("payments", folder)
    signer = Signer()
    await ensure_topics(bootstrap, all_topics())
    await start_at_the_end(bootstrap, tag)
    vault_app = create_vault_app(VaultSettings.model_validate(
        _common(database_url, bootstrap, schemas[1]) | {"service_name": "vault",
        "service_trust_dir": str(folder), "kms_key_file": str(folder / "kms" / "master.key")}
    ), erasure_consumer=f"bench-vault-{tag}")  # fmt: skip
    verifier = AccessTokenVerifier(
        JwksCache(StaticJwksSource(signer.jwks)), issuer=ISSUER, audience="coffre-api"
    )
    fraud_app = create_fraud_app(
        FraudSettings.model_validate(_common(database_url, bootstrap, schemas[2]) | {
            "service_name": "fraud", "consumer_group_prefix": f"bench-fraud-{tag}",
            "report_check_seconds": 3600}),
        access_tokens=verifier, services=ServiceTokenVerifier.from_folder("fraud", folder),
    )  # fmt: skip
    bank_app = create_sandbox_app(SandboxSettings(payment_available_amount="900000000.00"))
    settings = PaymentsSettings.model_validate(
        _common(database_url, bootstrap, schemas[0]) | {
            "ref_key": "bench-reference-key-0123456789", "bank_base_url": "http://bank.bench",
            "vault_url": "http://vault.bench", "fraud_url": "http://fraud.bench",
            "auth_jwks_json": json.dumps(signer.jwks), "token_issuer": ISSUER,
            "service_identity_key_file": str(folder / "payments.key.pem"),
            "worker_interval_seconds": 0.05, "fraud_wait_seconds": 60, "poll_base_seconds": 0.05,
            "poll_cap_seconds": 0.5, "max_per_day": "100000000",
            "consumer_group_prefix": f"bench-{tag}",
        })  # fmt: skip
    app = create_app(
        settings, observability=False,
        bank_transport=httpx.ASGITransport(app=bank_app),
        vault_transport=httpx.ASGITransport(app=vault_app),
        fraud_transport=httpx.ASGITransport(app=fraud_app),
    )  # fmt: skip
    bank = httpx.AsyncClient(transport=httpx.ASGITransport(app=bank_app), base_url="http://b")
    async with (
        vault_app.router.lifespan_context(vault_app),
        fraud_app.router.lifespan_context(fraud_app),
        app.router.lifespan_context(app),
    ):
        for running in (vault_app, fraud_app, app):
            await asyncio.wait_for(running.state.runtime.kafka_connected.wait(), 60)
        await asyncio.sleep(3)  # consumer groups join (tansu: session timeout / 2)
        await measure(app, fraud_app, bank, signer, bootstrap)
    await bank.aclose()
    await _drop(database_url, schemas)


async def start_at_the_end(bootstrap: str, tag: str) -> None:
    """The bench's consumer groups start at their topics' ends: ``make bench`` runs the fraud
    bench first, whose tens of thousands of payments on the same topic this fraud would
    otherwise read (and dead-letter: their accounts are unknown here) before the bench's own."""
    groups = {
        f"bench-fraud-{tag}.activity": [PaymentInitiated.topic(), TransactionIngested.topic()],
        f"bench-{tag}.fraud": [TransactionScored.topic(), PaymentHoldResolved.topic()],
    }
    for group, topics in groups.items():
        for topic in topics:
            await place_group_at_end(bootstrap, group, topic)


async def register_with_fraud(members: list[Requester], fraud_db: Any, bootstrap: str) -> None:
    """Each member registered as auth does it (``UserRegistered`` on the broker), then wait
    until fraud knows them all: fraud holds its members in memory, so a row written into its
    table behind its back is never seen and every payment would be refused as unknown."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for who in members:
            event = UserRegistered(user_id=uuid.UUID(who.user_id), method="password")
            data = Envelope.wrap(event, producer="auth", subject=who.user_id).to_bytes()
            await producer.send_and_wait(event.topic(), data, key=who.user_id.encode())
    finally:
        await producer.stop()
    query = "SELECT count(*) FROM members WHERE owner_ref = ANY($1::text[])"
    ids = [who.user_id for who in members]
    deadline = time.monotonic() + 120
    while await fraud_db.fetchval(query, ids) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError("fraud did not register the bench's members")
        await asyncio.sleep(0.05)


async def measure(app: Any, fraud_app: Any, bank: httpx.AsyncClient, signer: Signer,
                  bootstrap: str) -> None:  # fmt: skip
    ctx = app.state.container.ctx
    fraud_db = fraud_app.state.runtime.db
    members = [
        Requester(str(uuid.uuid4()), str(uuid.uuid4()), "bench-device") for _ in range(MEMBERS)
    ]
    await register_with_fraud(members, fraud_db, bootstrap)
    created: list[tuple[Requester, dict[str, Any]]] = []
    for who in members:
        account = await consent_for(ctx, bank, who.user_id)
        for i in range(PAYMENTS // MEMBERS):
            amount = f"{10 + i % 40}.00"
            creditor = {"name": "Camille", "iban": CREDITOR}
            body = {"kind": "payment", "account_ref": account, "amount": amount,
                    "currency": "EUR", "creditor": creditor}  # fmt: skip
            given = PaymentInput("payment", account, body["amount"], "EUR", "Camille", CREDITOR)
            answer = await create_payment(ctx, who, str(uuid.uuid4()), body, given)
            created.append((who, answer.body))
    total = len(created)
    gate = asyncio.Semaphore(16)
    calls: list[float] = []

    async def authorise(who: Requester, body: dict[str, Any]) -> None:
        async with gate:
            token = signer.stepup(who.user_id, body["operation"])
            began = time.perf_counter()
            await authorise_payment(ctx, who, body["payment_id"], token)
            calls.append((time.perf_counter() - began) * 1000)
        app.state.container.kick()

    started = time.perf_counter()
    await asyncio.gather(*(authorise(who, body) for who, body in created))
    db = app.state.runtime.db
    query = "SELECT count(*) FROM payments WHERE state IN ('executed', 'rejected', 'held')"
    deadline = started + 300
    while await db.fetchval(query) < total:
        if time.perf_counter() > deadline:
            rows = await db.fetch("SELECT state, count(*) AS n FROM payments GROUP BY state")
            raise RuntimeError(f"payments did not settle: {[tuple(r) for r in rows]}")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    executed = await db.fetchval("SELECT count(*) FROM payments WHERE state = 'executed'")
    held = await db.fetchval("SELECT count(*) FROM payments WHERE state = 'held'")
    ends = await db.fetch("SELECT state, reason, count(*) AS n FROM payments GROUP BY 1, 2")
    stages = await db.fetch(
        "SELECT payment_id, state, at FROM payment_audit "
        "WHERE state IN ('authorised', 'cleared', 'submitting', 'submitted')"
    )
    decided = await fraud_db.fetch("SELECT payment_id, decided_at AS at FROM payment_decisions")
    stages += [{"payment_id": r["payment_id"], "state": "decided", "at": r["at"]} for r in decided]
    report(total, executed, elapsed, stages)
    line("authorise call itself (vault payee read, step-up, commit) p50", statistics.median(calls),
         "ms")  # fmt: skip
    print(f"held by fraud for an analyst (not counted as executed): {held}", flush=True)
    print("outcomes: " + ", ".join(f"{r['state']}/{r['reason'] or '-'}={r['n']}" for r in ends))
    raw = await raw_kafka_rate(bootstrap, total, 600)
    line("raw aiokafka produce→consume (600 B messages)", raw, "msg/s")
    print(f"ratio executed payments/raw: {total / elapsed / raw:.4f}", flush=True)


STAGES = (
    ("authorise → fraud decision", "authorised", "cleared"),
    ("authorise → bank submission", "authorised", "submitted"),
    ("  of which authorise → fraud decided (payments' relay, Kafka, fraud)", "authorised",
     "decided"),
    ("  of which fraud decided → cleared (fraud's relay, Kafka, payments)", "decided", "cleared"),
    ("  of which cleared → submission started (worker)", "cleared", "submitting"),
    ("  of which submission started → bank answered (vault, bank)", "submitting", "submitted"),
)  # fmt: skip


def report(total: int, executed: int, elapsed: float, stages: list[Any]) -> None:
    at: dict[str, dict[str, Any]] = {}
    for row in stages:
        at.setdefault(row["payment_id"], {})[row["state"]] = row["at"]
    print(f"{total} payments over {MEMBERS} members, {executed} executed", flush=True)
    line("authorise → executed (fraud over Kafka, sandbox bank)", executed / elapsed, "payments/s")
    for name, start, end in STAGES:
        values = [(s[end] - s[start]).total_seconds() * 1000 for s in at.values()
                  if end in s and start in s]  # fmt: skip
        if len(values) >= 2:
            cuts = statistics.quantiles(values, n=100)
            line(f"{name} p50", statistics.median(values), "ms")
            line(f"{name} p99", cuts[98], "ms")


async def _drop(database_url: str, schemas: list[str]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        for schema in schemas:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


def main() -> int:
    database_url = os.environ.get("DATABASE_URL")
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not database_url or not bootstrap:
        print("payments bench needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make bench)")
        return 2
    configure_logging("payments-bench", level=os.environ.get("LOG_LEVEL", "WARNING"))
    with tempfile.TemporaryDirectory(prefix="payments-bench-") as folder:
        asyncio.run(run(database_url, bootstrap, Path(folder)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
