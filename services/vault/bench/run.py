"""Vault bench: audited unwraps/s (single and batched) and secret reads/s beside the raw AES-GCM
rate of ``cryptography``, measured in the same run.

Standalone: reads DATABASE_URL from the environment (``make bench`` starts a fresh embedded
stack and sets it) and works in a throw-away schema it drops at the end; without DATABASE_URL it
measures the use cases over the in-memory store instead and says so. Every figure is measured
in this run; output lines are ``name: value unit``. ``BENCH_CONCURRENCY`` (default ``8,64``)
lists the numbers of concurrent callers; the appender's mean batch size printed beside each
shows that the callers really overlap. The audit chain is verified after the run.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from common.db.database import Database
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vault.adapters.kms import LocalFileKms
from vault.adapters.memory import MemoryStore
from vault.bootstrap import build_context
from vault.domain import crypto
from vault.domain.caller import Caller
from vault.service import audit
from vault.service.context import VaultContext
from vault.service.datakeys import UnwrapItem, generate_data_key, unwrap_data_key, unwrap_many
from vault.service.ports import AuditBatchWriter
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "1" if QUICK else "3"))
CONCURRENCIES = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "8,64").split(",")]
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
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


async def profile_python_per_unwrap(calls: Calls, count: int = 20_000) -> None:
    """cProfile (CPU clock) over batched unwraps: Python time per key, and where it goes."""
    profiler = cProfile.Profile(time.process_time)
    n = count // BATCH
    profiler.enable()
    await asyncio.gather(*(calls.unwrap_batch(i) for i in range(n)))
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    waiting = sum(v[2] for (_, _, name), v in stats.items() if "poll" in name or "select" in name)
    python = sum(v[2] for v in stats.values()) - waiting
    print(
        f"profiled (cProfile, batched): {1e6 * python / (n * BATCH):,.1f} µs of Python per unwrap"
    )
    top = sorted(stats.items(), key=lambda kv: kv[1][2], reverse=True)
    shown = [(k, v) for k, v in top if not ("poll" in k[2] or "select" in k[2])][:5]
    for (file, _, name), (_, _, tottime, _, _) in shown:
        print(f"  {Path(file).name}:{name}: {1e6 * tottime / (n * BATCH):,.1f} µs per unwrap")


async def measure(ctx: VaultContext, label: str) -> dict[str, float]:
    calls = Calls(ctx, await prepare(ctx))
    print(f"store: {label}")
    figures = {}
    for callers in CONCURRENCIES:
        figures[f"single {callers}"] = await measured(
            "vault single unwraps", ctx, callers, calls.unwrap, "unwraps/s"
        )
    figures["batch"] = await measured(
        f"vault batch unwraps ({BATCH} keys per call)", ctx, 8, calls.unwrap_batch, "keys/s"
    )
    figures["reads"] = await measured("vault secret reads", ctx, 8, calls.read, "reads/s")
    print(f"cache: subjects {ctx.subjects.hits:,} hits / {ctx.subjects.misses:,} misses")
    await profile_python_per_unwrap(calls)
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
        else:
            figures = asyncio.run(in_memory(Path(tmp)))
    print(f"raw AES-256-GCM decrypts (cryptography, 32-byte key, one thread): {raw:,.0f} ops/s")
    for name, value in figures.items():
        print(f"{name} vs raw AES-GCM: {value / raw:.4f} ({100 * value / raw:.2f}% of raw)")


if __name__ == "__main__":
    sys.exit(main())
