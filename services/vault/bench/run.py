"""Vault bench: audited unwraps/s (single and batched) and secret reads/s beside the raw AES-GCM
rate of ``cryptography`` and raw Postgres commits, measured in the same run; then the same unwraps
over HTTP against a real server process beside a no-op endpoint on that server (``http_bench``).

Standalone: reads DATABASE_URL from the environment (``make bench`` starts a fresh embedded
stack and sets it) and works in throw-away schemas it drops at the end; without DATABASE_URL it
measures the use cases over the in-memory store instead and says so (and skips HTTP, which also
needs KAFKA_BOOTSTRAP_SERVERS and SERVICE_TRUST_DIR). Every figure is measured in this run;
output lines are ``name: value unit``. ``BENCH_CONCURRENCY`` (default ``8,64``) lists the numbers
of concurrent single-unwrap callers, ``BENCH_BATCH_CONCURRENCY`` (``8,32``) those of batch
callers, ``BENCH_BATCH`` (100) the keys per batch call (``BENCH_HTTP_BATCH``, default
``<BENCH_BATCH>,1000``, those over HTTP), ``BENCH_SECONDS`` (3) each phase's
length; the appender's mean batch size printed beside each shows that the callers really
overlap. The audit chain is verified after the run (in-process and the server's).
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from common.db.database import Database
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from http_bench import measure_http
from vault.adapters.kms import LocalFileKms
from vault.adapters.memory import MemoryStore
from vault.adapters.pg_audit_batches import copy_records
from vault.bootstrap import build_context
from vault.domain import crypto
from vault.domain.audit import AuditDraft, AuditRequest, chain_links
from vault.domain.caller import Caller
from vault.service import audit
from vault.service.context import VaultContext
from vault.service.datakeys import generate_data_key
from vault.service.ports import AuditBatchWriter
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret
from vault.service.unwraps import UnwrapItem, decide_many, unwrap_data_key, unwrap_many

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "1" if QUICK else "3"))
CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "8,64").split(",")]
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
BATCH_CALLERS = [int(c) for c in os.environ.get("BENCH_BATCH_CONCURRENCY", "8,32").split(",")]
HTTP_BATCHES = [int(c) for c in os.environ.get("BENCH_HTTP_BATCH", f"{BATCH},1000").split(",")]
SUBJECTS = 200
ARCHIVE, AGGREGATION, PAYMENTS = Caller("archive"), Caller("aggregation"), Caller("payments")


def raw_aes_gcm_rate(seconds: float) -> float:
    """Decrypts/s of a 32-byte key under AES-256-GCM with 48 bytes of AAD, one thread."""
    key, aad = AESGCM.generate_key(bit_length=256), b"member-000123|document|x" * 2
    blob = crypto.seal(key, os.urandom(32), aad)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            AESGCM(key).decrypt(blob[:12], blob[12:], aad)
        count += 1000
    return count / (time.perf_counter() - start)


async def rate(
    seconds: float, callers: int, make_call: Callable[[int], Awaitable[int]]
) -> tuple[float, float]:
    """(items/s, process CPU µs per item) with ``callers`` tasks calling in a loop."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            made = await make_call(i)
            done += made
            i += callers

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(n) for n in range(callers)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return done / elapsed, 1e6 * cpu / max(done, 1)


async def prepare(ctx: VaultContext) -> list[bytes]:
    tokens = []
    for i in range(SUBJECTS):
        subject = f"member-{i:06d}"
        ref = SecretRef(subject, "psd2-consent", "consent-1")
        await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=os.urandom(256)))
        tokens.append((await generate_data_key(ctx, ARCHIVE, subject, "document")).wrapped)
    return tokens


class Calls:
    def __init__(self, ctx: VaultContext, tokens: list[bytes]) -> None:
        self.ctx, self.tokens = ctx, tokens

    async def unwrap(self, i: int) -> int:
        subject = f"member-{i % SUBJECTS:06d}"
        await unwrap_data_key(self.ctx, ARCHIVE, subject, "document", self.tokens[i % SUBJECTS])
        return 1

    async def unwrap_batch(self, i: int) -> int:
        items = [
            UnwrapItem(f"member-{j % SUBJECTS:06d}", "document", self.tokens[j % SUBJECTS])
            for j in range(i * BATCH, (i + 1) * BATCH)
        ]
        results = await unwrap_many(self.ctx, ARCHIVE, items)
        assert not any(isinstance(r, Exception) for r in results)
        return len(results)

    async def read(self, i: int) -> int:
        ref = SecretRef(f"member-{i % SUBJECTS:06d}", "psd2-consent", "consent-1")
        await read_secret(self.ctx, PAYMENTS, ref)
        return 1


Call = Callable[[int], Awaitable[int]]


async def measured(label: str, ctx: VaultContext, callers: int, call: Call, unit: str) -> float:
    batches, entries = ctx.appender.batches, ctx.appender.entries
    per_second, cpu_us = await rate(SECONDS, callers, call)
    batches, entries = ctx.appender.batches - batches, ctx.appender.entries - entries
    print(f"{label}, {callers} callers: {per_second:,.0f} {unit}")
    print(f"  appender: {entries / max(batches, 1):,.1f} entries per commit ({batches:,} commits)")
    print(f"  vault process CPU per item: {cpu_us:,.1f} µs")
    return per_second


async def python_per_unwrap(ctx: VaultContext, calls: Calls, count: int = 10_000) -> None:
    """CPU time of the Python an unwrap runs, stage by stage (cached state, no I/O in them):
    decide (policy, token, cached key, AES-GCM; in calls of ``BATCH`` keys, and alone), chain
    (hash), row (the batch write's data); then a cProfile (CPU clock) of the batched stages."""
    items = [
        UnwrapItem(f"member-{j % SUBJECTS:06d}", "document", calls.tokens[j % SUBJECTS])
        for j in range(count)
    ]
    clock = time.process_time
    start = clock()
    for item in items[: count // 10]:
        await decide_many(ctx, ARCHIVE, [item], fresh=False)
    single_us = 1e6 * (clock() - start) / (count // 10)
    start = clock()
    decided = await _decide_batches(ctx, items)
    decide_us = 1e6 * (clock() - start) / count
    now = ctx.clock.now()
    requests = [AuditRequest(draft, now, epoch) for draft, epoch in decided]
    start = clock()
    links = chain_links(None, requests)
    chain_us = 1e6 * (clock() - start) / count
    start = clock()
    copy_records(requests, links)  # the rows of a group of COPY_FROM entries or more
    rows_us = 1e6 * (clock() - start) / count
    total = decide_us + chain_us + rows_us
    print(f"python per unwrap: {total:,.1f} µs (decide {decide_us:,.1f}, chain {chain_us:,.1f},")
    print(f"  batch row {rows_us:,.1f}; CPU clock, no I/O, cached subject state; {BATCH} keys")
    print(f"  per call); decided alone: {single_us + chain_us + rows_us:,.1f} µs (decide")
    print(f"  {single_us:,.1f})")
    profiler = cProfile.Profile(clock)
    profiler.enable()
    await _decide_batches(ctx, items)
    copy_records(requests, chain_links(None, requests))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (file, _, name), (_, _, tottime, _, _) in sorted(
        stats.items(), key=lambda kv: kv[1][2], reverse=True
    )[:5]:
        print(f"  cProfile top: {Path(file).name}:{name}: {1e6 * tottime / count:,.1f} µs")


async def _decide_batches(
    ctx: VaultContext, items: list[UnwrapItem]
) -> list[tuple[AuditDraft, tuple[str, int] | None]]:
    decided: list[tuple[AuditDraft, tuple[str, int] | None]] = []
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        drafts, epochs, _ = await decide_many(ctx, ARCHIVE, chunk, fresh=False)
        decided.extend(zip(drafts, epochs, strict=True))
    return decided


async def measure(ctx: VaultContext, label: str) -> dict[str, float]:
    calls = Calls(ctx, await prepare(ctx))
    print(f"store: {label}")
    figures = {}
    for callers in CONCURRENCIES:
        figures[f"single {callers}"] = await measured(
            "vault single unwraps", ctx, callers, calls.unwrap, "unwraps/s"
        )
    for callers in BATCH_CALLERS:
        figures[f"batch {callers}"] = await measured(
            f"vault batch unwraps ({BATCH} keys per call)", ctx, callers, calls.unwrap_batch,
            "keys/s",
        )  # fmt: skip
    figures["reads"] = await measured("vault secret reads", ctx, 8, calls.read, "reads/s")
    print(f"cache: subjects {ctx.subjects.hits:,} hits / {ctx.subjects.misses:,} misses")
    await python_per_unwrap(ctx, calls)
    return figures


async def raw_commit_rate(db: Database, callers: int = 8) -> float:
    """One-row INSERT commits/s with ``callers`` connections: what the disk allows per commit."""
    await db.pool.execute("CREATE TABLE raw_commits (n bigint)")
    done, deadline = 0, time.perf_counter() + SECONDS

    async def worker() -> None:
        nonlocal done
        async with db.pool.acquire() as conn:
            while time.perf_counter() < deadline:
                await conn.execute("INSERT INTO raw_commits VALUES (1)")
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(callers)))
    return done / (time.perf_counter() - start)


async def verify_chain(ctx: VaultContext) -> None:
    report = await audit.verify(ctx)
    status = "verified" if report.ok else f"BROKEN ({report.problem})"
    print(f"audit chain after the run: {status}, {report.checked:,} entries")


async def with_postgres(dsn: str, kms_dir: Path) -> dict[str, float]:
    from common.db.migrations import migrate
    from common.db.uow import UnitOfWork
    from vault.adapters.pg_audit_batches import PgAuditBatches
    from vault.adapters.pg_uow import pg_uow_factory
    from vault.container import migrations

    schema = f"vault_bench_{uuid.uuid4().hex[:8]}"
    db = await Database.connect(dsn, schema, max_size=20, app="vault-bench")
    writer: AuditBatchWriter = PgAuditBatches(lambda: db)
    ctx = build_context(
        pg_uow_factory(lambda: UnitOfWork(db, producer="vault")),
        LocalFileKms(kms_dir / "master.key"),
        audit_batches=writer,
    )
    try:
        await migrate(db, migrations())
        commits = await raw_commit_rate(db)
        print(f"raw Postgres commits (one-row INSERT, 8 connections): {commits:,.0f} commits/s")
        figures = await measure(ctx, "postgres (every call audited in the hash chain)")
        for name in [n for n in figures if n.startswith("single")]:
            print(f"{name} vs raw commits: {figures[name] / commits:.2f}x")
        await verify_chain(ctx)
        return figures
    finally:
        await ctx.appender.close()
        await db.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await db.close()


async def in_memory(kms_dir: Path) -> dict[str, float]:
    ctx = build_context(MemoryStore().uow, LocalFileKms(kms_dir / "master.key"))
    figures = await measure(ctx, "in-memory (DATABASE_URL not set)")
    await verify_chain(ctx)
    return figures


def main() -> None:
    raw = raw_aes_gcm_rate(SECONDS)
    with TemporaryDirectory() as tmp:
        dsn = os.environ.get("DATABASE_URL")
        if dsn:
            figures = asyncio.run(with_postgres(dsn, Path(tmp)))
            if os.environ.get("SERVICE_TRUST_DIR") and os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
                http = measure_http(
                    dsn, Path(tmp), CONCURRENCIES, BATCH_CALLERS, SECONDS, HTTP_BATCHES
                )
                figures |= {f"http {name}": value for name, value in http.items()}
        else:
            figures = asyncio.run(in_memory(Path(tmp)))
    print(f"raw AES-256-GCM decrypts (cryptography, 32-byte key, one thread): {raw:,.0f} ops/s")
    for name, value in figures.items():
        print(f"{name} vs raw AES-GCM: {value / raw:.4f} ({100 * value / raw:.2f}% of raw)")


if __name__ == "__main__":
    main()
