"""Auth bench: logins/s at the configured argon2id cost, step-up verification latency, OIDC
ID-token checks.

Standalone: reads DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS from the environment (``make bench``
sets them) and runs in its own throw-away schema; without DATABASE_URL it runs the use cases on
the in-memory fakes and says so. Prints ``name: value unit`` lines, and each figure's ratio to
a raw baseline measured in the same run (argon2id alone; one Ed25519 signature check alone;
one RS256 signature check alone for the ID-token checks).
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg
from auth.adapters.clock import SystemClock
from auth.adapters.mail import RecordingMailer
from auth.adapters.memory import InMemoryUnitOfWorkFactory
from auth.adapters.pg_uow import PgAuthUnitOfWorkFactory
from auth.adapters.sealing import SecretBox
from auth.adapters.sms import RecordingSmsSender
from auth.bootstrap import MIGRATIONS, build_deps
from auth.domain.accounts import Account
from auth.domain.challenges import Method
from auth.domain.id_tokens import IdTokenRules, read_header, verify_id_token
from auth.domain.ratelimit import RateLimits, RateRule
from auth.service import login, stepup
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.tokens import IssuerJwksSource
from auth.settings import AuthSettings
from common.logging import configure_logging
from common.runtime import Runtime
from common.security.access_tokens import JwksCache
from common.security.stepup import Operation, StepUpVerifier
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc import jwt
from joserfc.jwk import RSAKey

PASSWORD = "violet-harbour-tundra-42"
LOGINS = int(os.environ.get("AUTH_BENCH_LOGINS", "60"))
STEPUPS = int(os.environ.get("AUTH_BENCH_STEPUPS", "200"))
ID_TOKENS = int(os.environ.get("AUTH_BENCH_ID_TOKENS", "500"))
CONCURRENCY = int(os.environ.get("AUTH_BENCH_CONCURRENCY", str(os.cpu_count() or 2)))
CTX = RequestContext(ip=None, user_agent="bench")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:.2f} {unit}", flush=True)


def unlimited(deps: Deps) -> None:
    base = RateLimits()
    rules = {
        name: RateRule(rule.name, 10**9, rule.window)
        for name, rule in vars(base).items()
        if isinstance(rule, RateRule)
    }
    deps.policy = replace(deps.policy, rates=RateLimits(**rules))


async def concurrently(n: int, work: Callable[[int], Awaitable[Any]]) -> float:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await work(i)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - start


async def seed(deps: Deps, count: int) -> list[Account]:
    password_hash = deps.hasher.hash(PASSWORD)
    now = deps.clock.now()
    accounts = []
    async with deps.uow() as uow:
        for i in range(count):
            account = Account.open(
                f"bench-{i}-{uuid.uuid4().hex[:6]}@example.org", password_hash, now
            )
            account.phone, account.phone_verified_at, account.factors = "+33612345678", now, {"sms"}
            await uow.accounts.add(account)
            accounts.append(account)
        await uow.commit()
    return accounts


async def bench_logins(deps: Deps, accounts: list[Account]) -> None:
    hash_ = accounts[0].password_hash or ""
    await login.login(deps, accounts[-1].email, PASSWORD, CTX)
    raw = await concurrently(
        LOGINS, lambda i: asyncio.to_thread(deps.hasher.verify, hash_, PASSWORD)
    )
    p = deps.hasher.parameters
    print(
        f"argon2id: m={p.memory_kib} KiB, t={p.time_cost}, p={p.parallelism}; "
        f"concurrency {CONCURRENCY}"
    )
    line("argon2id_verify_raw", LOGINS / raw, "verifies/s")
    for account in accounts:
        account.factors = set()
    async with deps.uow() as uow:
        for account in accounts:
            await uow.accounts.update(account)
        await uow.commit()
    full = await concurrently(
        LOGINS, lambda i: login.login(deps, accounts[i % len(accounts)].email, PASSWORD, CTX)
    )
    line("logins", LOGINS / full, "logins/s")
    line("logins_vs_raw_argon2id", raw / full, "ratio")


async def bench_stepup(deps: Deps, account: Account, sms: RecordingSmsSender) -> None:
    account.factors = {"sms"}
    async with deps.uow() as uow:
        await uow.accounts.update(account)
        await uow.commit()
    issued, grants, auth_side = [], [], []
    for i in range(STEPUPS):
        op = Operation("payment", f"{10 + i}.50", "EUR", "FR7630006000011234567890189", f"op-{i}")
        started = await stepup.start_stepup(deps, account.id, op, Method.SMS, CTX)
        code = sms.messages[-1].text.split("code ", 1)[1][:6]
        t0 = time.perf_counter()
        granted = await stepup.verify_stepup(deps, account.id, started.challenge_id, code, CTX)
        auth_side.append(time.perf_counter() - t0)
        issued.append(op)
        grants.append(granted.authorisation)
    line("stepup_code_check_and_sign_p50", pct(auth_side, 50) * 1000, "ms")
    line("stepup_code_check_and_sign_p99", pct(auth_side, 99) * 1000, "ms")
    verifier = StepUpVerifier(
        JwksCache(IssuerJwksSource(deps.tokens)), issuer=deps.tokens.settings.issuer
    )
    await verifier.verify(grants[0], issued[0], subject=str(account.id))
    local = []
    for token, op in zip(grants, issued, strict=True):
        t0 = time.perf_counter()
        await verifier.verify(token, op, subject=str(account.id))
        local.append(time.perf_counter() - t0)
    key = Ed25519PrivateKey.generate()
    message = grants[0].rsplit(".", 1)[0].encode()
    signature, public = key.sign(message), key.public_key()
    raw = []
    for _ in range(len(grants)):
        t0 = time.perf_counter()
        public.verify(signature, message)
        raw.append(time.perf_counter() - t0)
    line("stepup_verify_local_p50", pct(local, 50) * 1e6, "us")
    line("stepup_verify_local_p99", pct(local, 99) * 1e6, "us")
    line("ed25519_verify_raw_p50", pct(raw, 50) * 1e6, "us")
    line("stepup_verify_vs_raw_ed25519_p50", pct(local, 50) / pct(raw, 50), "ratio")
    print(f"stepup_samples: {len(local)}; mean {statistics.mean(local) * 1e6:.1f} us")


def bench_id_tokens(count: int) -> None:
    """Every ID-token check of an OIDC login (RS256, 2048-bit key) against one bare RS256
    signature check with ``cryptography``."""
    key = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    public = RSAKey.import_key(key.as_dict(private=False))
    now = int(time.time())
    claims = {"iss": "https://idp.bench", "aud": "coffre", "sub": "e-1", "iat": now,
              "exp": now + 300, "nonce": "n"}  # fmt: skip
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)
    rules = IdTokenRules("https://idp.bench", "coffre", ("RS256",), lambda n: n == "n")
    checks = []
    for _ in range(count):
        t0 = time.perf_counter()
        alg, _ = read_header(token, rules)
        verify_id_token(token, alg, public, rules, time.time())
        checks.append(time.perf_counter() - t0)
    signing_input, _, signature = token.rpartition(".")
    raw_sig = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
    raw_key = public.public_key
    raw = []
    for _ in range(count):
        t0 = time.perf_counter()
        raw_key.verify(raw_sig, signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        raw.append(time.perf_counter() - t0)
    mine, base = statistics.median(checks), statistics.median(raw)
    line("oidc_id_token_check_p50", mine * 1e6, "us")
    line("oidc_id_token_check_p99", pct(checks, 99) * 1e6, "us")
    line("baseline_rs256_verify_p50", base * 1e6, "us")
    print(f"oidc_id_token_check_vs_raw: {mine / base:.2f}x ({count} tokens)", flush=True)


async def main() -> None:
    configure_logging("auth-bench", level="WARNING", json=True)
    database_url = os.environ.get("DATABASE_URL")
    values = {
        "environment": "test",
        "pepper": secrets.token_urlsafe(32),
        "key_encryption_key": secrets.token_urlsafe(32),
        "database_schema": f"auth_bench_{uuid.uuid4().hex[:8]}",
    }
    if database_url:
        values["database_url"] = database_url
    settings = AuthSettings.model_validate(values)
    sms = RecordingSmsSender()
    runtime = None
    if database_url:
        runtime = Runtime(settings, migrations=MIGRATIONS)
        await runtime.start()
        box = SecretBox(settings.key_encryption_key.get_secret_value().encode())
        deps = build_deps(
            settings, PgAuthUnitOfWorkFactory(runtime, box), sms=sms, mailer=RecordingMailer()
        )
        print(f"store: postgres (schema {settings.schema_name})")
    else:
        deps = build_deps(
            settings, InMemoryUnitOfWorkFactory(), SystemClock(), sms, RecordingMailer()
        )
        print("store: in-memory fakes (DATABASE_URL not set)")
    unlimited(deps)
    try:
        accounts = await seed(deps, max(8, CONCURRENCY * 4))
        await bench_logins(deps, accounts)
        await bench_stepup(deps, accounts[0], sms)
        bench_id_tokens(ID_TOKENS)
    finally:
        if runtime is not None and database_url:
            await runtime.stop()
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(f'DROP SCHEMA "{settings.schema_name}" CASCADE')
            finally:
                await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
