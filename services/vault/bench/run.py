"""Vault bench: unwraps/s and secret reads/s against the raw AES-GCM rate of ``cryptography``.

Standalone: reads DATABASE_URL from the environment (``make bench`` starts a fresh embedded
stack and sets it) and works in a throw-away schema it drops at the end; without DATABASE_URL it
measures the use cases over the in-memory store instead and says so. Every figure is measured
in this run; output lines are ``name: value unit``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from tempfile import TemporaryDirectory

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from vault.adapters.kms import LocalFileKms
from vault.adapters.memory import MemoryStore
from vault.bootstrap import build_context
from vault.domain import crypto
from vault.domain.caller import Caller
from vault.service.context import VaultContext
from vault.service.datakeys import generate_data_key, unwrap_data_key
from vault.service.secrets import SecretRef, SecretValue, put_secret, read_secret

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
SECONDS = float(os.environ.get("BENCH_SECONDS", "1" if QUICK else "3"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "8"))
SUBJECTS = 200
ARCHIVE, AGGREGATION, PAYMENTS = Caller("archive"), Caller("aggregation"), Caller("payments")


def raw_aes_gcm_rate(seconds: float) -> float:
    """Decrypts/s of a 32-byte key under AES-256-GCM with 40 bytes of AAD, one thread."""
    key, aad = AESGCM.generate_key(bit_length=256), b"member-000123|document|x" * 2
    blob = crypto.seal(key, os.urandom(32), aad)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(1000):
            AESGCM(key).decrypt(blob[:12], blob[12:], aad)
        count += 1000
    return count / (time.perf_counter() - start)


async def rate(seconds: float, make_call: Callable[[int], Awaitable[object]]) -> float:
    """Calls/s with CONCURRENCY tasks calling in a loop for ``seconds``."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < deadline:
            await make_call(i)
            done += 1
            i += CONCURRENCY

    start = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(CONCURRENCY)))
    return done / (time.perf_counter() - start)


async def prepare(ctx: VaultContext) -> list[bytes]:
    tokens = []
    for i in range(SUBJECTS):
        subject = f"member-{i:06d}"
        ref = SecretRef(subject, "psd2-consent", "consent-1")
        await put_secret(ctx, AGGREGATION, ref, SecretValue(plaintext=os.urandom(256)))
        tokens.append((await generate_data_key(ctx, ARCHIVE, subject, "document")).wrapped)
    return tokens


async def measure(ctx: VaultContext, label: str) -> tuple[float, float]:
    tokens = await prepare(ctx)

    async def unwrap(i: int) -> object:
        subject = f"member-{i % SUBJECTS:06d}"
        return await unwrap_data_key(ctx, ARCHIVE, subject, "document", tokens[i % SUBJECTS])

    async def read(i: int) -> object:
        ref = SecretRef(f"member-{i % SUBJECTS:06d}", "psd2-consent", "consent-1")
        return await read_secret(ctx, PAYMENTS, ref)

    unwraps = await rate(SECONDS, unwrap)
    reads = await rate(SECONDS, read)
    cache = ctx.keyring.cache
    print(f"store: {label}")
    print(f"concurrency: {CONCURRENCY} tasks")
    print(f"data-key cache hits: {cache.hits} misses: {cache.misses}")
    return unwraps, reads


async def with_postgres(dsn: str, kms_dir: Path) -> tuple[float, float]:
    from common.db.database import Database
    from common.db.migrations import migrate
    from common.db.uow import UnitOfWork
    from vault.adapters.pg_uow import pg_uow_factory
    from vault.container import migrations

    schema = f"vault_bench_{uuid.uuid4().hex[:8]}"
    db = await Database.connect(dsn, schema, max_size=CONCURRENCY + 2, app="vault-bench")
    try:
        await migrate(db, migrations())
        ctx = build_context(
            pg_uow_factory(lambda: UnitOfWork(db, producer="vault")),
            LocalFileKms(kms_dir / "master.key"),
        )
        return await measure(
            ctx, "postgres (every call audited in the hash chain, one transaction each)"
        )
    finally:
        await db.pool.execute(f'DROP SCHEMA "{schema}" CASCADE')
        await db.close()


async def main() -> None:
    raw = raw_aes_gcm_rate(SECONDS)
    with TemporaryDirectory() as tmp:
        dsn = os.environ.get("DATABASE_URL")
        if dsn:
            unwraps, reads = await with_postgres(dsn, Path(tmp))
        else:
            ctx = build_context(MemoryStore().uow, LocalFileKms(Path(tmp) / "master.key"))
            unwraps, reads = await measure(ctx, "in-memory (DATABASE_URL not set)")
    print(f"raw AES-256-GCM decrypts (cryptography, 32-byte key): {raw:,.0f} ops/s")
    print(f"vault data-key unwraps: {unwraps:,.0f} ops/s")
    print(f"vault secret reads: {reads:,.0f} ops/s")
    print(f"unwraps vs raw AES-GCM: 1:{raw / unwraps:,.0f} ({100 * unwraps / raw:.3f}% of raw)")
    print(f"secret reads vs raw AES-GCM: 1:{raw / reads:,.0f} ({100 * reads / raw:.3f}% of raw)")


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
