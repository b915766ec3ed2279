"""What only the real Postgres proves: state shared by instances, locking, secrets at rest."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from auth.adapters.mail import RecordingMailer
from auth.adapters.sms import RecordingSmsSender
from auth.bootstrap import MIGRATIONS
from auth.entrypoints.app import create_app
from auth_it_conftest import RunningAuth, auth_settings
from auth_it_helpers import PASSWORD, UA, bearer, login, register
from coffre_testing.app import running_app
from coffre_testing.infra import Infra
from common.db import Database
from common.db.migrations import downgrade, migrate

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


@asynccontextmanager
async def instance(infra: Infra, schema: str, **overrides: object) -> AsyncIterator[RunningAuth]:
    settings = auth_settings(infra, schema, **overrides)
    sms, mailer = RecordingSmsSender(), RecordingMailer()
    app = create_app(settings, sms=sms, mailer=mailer)
    async with running_app(app, wait_for_kafka=False) as client:
        yield RunningAuth(client, sms, mailer, app.state.container, settings, app.state.runtime)


async def test_lockout_holds_across_instances(infra: Infra, schema_name: str) -> None:
    async with instance(infra, schema_name) as a, instance(infra, schema_name) as b:
        email = f"lock-{uuid.uuid4().hex[:6]}@example.org"
        await register(a.client, a.mailer, email)
        for i in range(5):
            node = a if i % 2 else b
            r = await node.client.post("/v1/login", json={"email": email, "password": "x" * 12})
            assert r.status_code == 401
        for node in (a, b):
            r = await node.client.post("/v1/login", json={"email": email, "password": PASSWORD})
            assert r.status_code == 423
            assert int(r.headers["retry-after"]) > 1700
            assert r.json()["code"] == "auth.account-locked"


async def test_rate_limit_holds_across_instances_with_retry_after(
    infra: Infra, schema_name: str
) -> None:
    async with (
        instance(infra, schema_name, rate_login_per_ip=4) as a,
        instance(infra, schema_name, rate_login_per_ip=4) as b,
    ):
        email = f"rate-{uuid.uuid4().hex[:6]}@example.org"
        await register(a.client, a.mailer, email)
        codes = []
        for i in range(6):
            node = a if i % 2 else b
            r = await node.client.post("/v1/login", json={"email": email, "password": PASSWORD})
            codes.append(r.status_code)
        assert codes == [200] * 4 + [429, 429]
        assert 0 < int(r.headers["retry-after"]) <= 300
        assert r.json()["code"] == "auth.rate-limited"


async def test_one_totp_code_used_concurrently_on_two_instances_passes_once(
    infra: Infra, schema_name: str
) -> None:
    async with instance(infra, schema_name) as a, instance(infra, schema_name) as b:
        email = f"race-{uuid.uuid4().hex[:6]}@example.org"
        await register(a.client, a.mailer, email)
        tokens = (await login(a.client, email))["tokens"]
        secret = (await a.client.post("/v1/factors/totp", headers=bearer(tokens))).json()["secret"]
        totp = pyotp.TOTP(secret)
        r = await a.client.post(
            "/v1/factors/totp/confirm", json={"code": totp.now()}, headers=bearer(tokens)
        )
        assert r.status_code == 200
        tickets = [(await login(n.client, email))["ticket"] for n in (a, b)]
        code = totp.at(int(time.time()) + 30)

        async def attempt(node: RunningAuth, ticket: str) -> int:
            r = await node.client.post(
                "/v1/login/second-factor",
                json={"ticket": ticket, "method": "totp", "code": code},
                headers=UA,
            )
            return r.status_code

        results = await asyncio.gather(attempt(a, tickets[0]), attempt(b, tickets[1]))
        assert sorted(results) == [200, 409]


async def test_key_rotation_keeps_old_tokens_valid_and_publishes_both(
    infra: Infra, schema_name: str
) -> None:
    from common.security.access_tokens import AccessTokenVerifier, HttpJwksSource, JwksCache

    async with instance(infra, schema_name) as a:
        email = f"rot-{uuid.uuid4().hex[:6]}@example.org"
        await register(a.client, a.mailer, email)
        old = (await login(a.client, email))["tokens"]["access_token"]
        deps = a.container.deps
        assert deps is not None
        await deps.tokens.rotate()
        keys = (await a.client.get("/.well-known/jwks.json")).json()["keys"]
        assert len(keys) == 2
        jwks = JwksCache(HttpJwksSource("http://testserver/.well-known/jwks.json", a.client))
        verifier = AccessTokenVerifier(jwks, issuer=a.settings.issuer, audience="coffre-api")
        assert (await verifier.verify(old)).subject


async def test_migrations_go_up_down_and_up_again(infra: Infra, schema_name: str) -> None:
    db = await Database.connect(infra.database_url, schema_name)
    try:
        await migrate(db, MIGRATIONS)
        assert await db.fetchval("SELECT count(*) FROM accounts") == 0
        await downgrade(db, MIGRATIONS, to_version=0)
        assert await db.fetchval("SELECT to_regclass('accounts')") is None
        await migrate(db, MIGRATIONS)
        assert await db.fetchval("SELECT count(*) FROM signing_keys") == 0
    finally:
        await db.close()


async def test_maintenance_purges_expired_rows_and_rotates_an_old_signing_key(
    infra: Infra, schema_name: str
) -> None:
    async with instance(infra, schema_name, key_rotation_days=1) as a:
        email = f"purge-{uuid.uuid4().hex[:6]}@example.org"
        await register(a.client, a.mailer, email)
        live = (await login(a.client, email))["tokens"]
        stale = (await login(a.client, email))["tokens"]
        old = datetime.now(UTC) - timedelta(days=3)
        async with a.runtime.db.pool.acquire() as conn:
            await conn.execute(
                "UPDATE sessions SET absolute_expires_at = $1 WHERE id = $2",
                old, uuid.UUID(stale["session_id"]),
            )  # fmt: skip
            await conn.execute(
                "INSERT INTO rate_counters VALUES ('t', 'gone', $1, 1, $1), "
                "('t', 'kept', now(), 1, now() + interval '1 hour')",
                old,
            )
            await conn.execute("UPDATE signing_keys SET created_at = $1", old)
        assert a.container.deps is not None
        await a.container.maintain_once(a.runtime)
        db: Database = a.runtime.db
        sessions = {str(r["id"]) for r in await db.fetch("SELECT id FROM sessions")}
        assert sessions == {live["session_id"]}
        assert [
            r["key"] for r in await db.fetch("SELECT key FROM rate_counters WHERE rule='t'")
        ] == ["kept"]
        assert await db.fetchval("SELECT count(*) FROM signing_keys") == 2
        keys = (await a.client.get("/.well-known/jwks.json")).json()["keys"]
        assert len(keys) == 2


async def test_an_accepted_totp_code_replayed_five_times_at_once_never_locks_the_owner(
    infra: Infra, schema_name: str
) -> None:
    async with instance(infra, schema_name) as a, instance(infra, schema_name) as b:
        email = f"replay-{uuid.uuid4().hex[:6]}@example.org"
        user_id = await register(a.client, a.mailer, email)
        tokens = (await login(a.client, email))["tokens"]
        secret = (await a.client.post("/v1/factors/totp", headers=bearer(tokens))).json()["secret"]
        totp = pyotp.TOTP(secret)
        r = await a.client.post(
            "/v1/factors/totp/confirm", json={"code": totp.now()}, headers=bearer(tokens)
        )
        assert r.status_code == 200
        code = totp.at(int(time.time()) + 30)
        ticket = (await login(a.client, email))["ticket"]
        r = await a.client.post(
            "/v1/login/second-factor", json={"ticket": ticket, "method": "totp", "code": code}
        )
        assert r.status_code == 200, r.text
        auth = bearer(r.json())
        operation = {"kind": "payment", "amount": "10.00", "currency": "EUR", "payee": "shop"}
        challenges = []
        for i in range(5):
            op = {**operation, "operation_id": f"op-{i}"}
            r = await a.client.post(
                "/v1/step-up/challenges", json={"operation": op, "method": "totp"}, headers=auth
            )
            challenges.append(r.json()["challenge_id"])
        replays = await asyncio.gather(
            *(
                node.client.post(
                    f"/v1/step-up/challenges/{cid}/verify", json={"code": code}, headers=auth
                )
                for node, cid in zip([a, b, a, b, a], challenges, strict=True)
            )
        )
        assert [r.status_code for r in replays] == [409] * 5
        assert {r.json()["code"] for r in replays} == {"auth.code-reused"}
        row = await a.runtime.db.fetch(
            "SELECT failures, locked_until FROM failure_counts WHERE key = $1", f"acct:{user_id}"
        )
        assert [(r["failures"], r["locked_until"]) for r in row] in ([], [(0, None)])
        assert (await login(b.client, email))["second_factor_required"] is True
