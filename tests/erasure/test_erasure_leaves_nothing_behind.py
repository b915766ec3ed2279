"""A member's erasure leaves none of their personal data in any service's tables or outbox.

The real auth, vault, aggregation and fraud apps (real lifespans) share the real broker and
Postgres; the sandbox bank runs as its own HTTP server. A member registers and signs in at auth,
links a bank through aggregation (fraud scores the transactions), then deletes their account.
Every table of every schema involved is then read as text (bytes as escaped text, so outbox
envelopes are searched too) for the member's id, e-mail, transaction labels and references,
account references and IBAN fragments.
"""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aggregation.app import create_app as create_aggregation
from aggregation.settings import AggregationSettings
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer
from auth.adapters.mail import RecordingMailer
from auth.adapters.sms import RecordingSmsSender
from auth.entrypoints.app import create_app as create_auth
from auth.settings import AuthSettings
from auth_it_helpers import PASSWORD, bearer, login, register
from coffre_testing.app import running_app
from coffre_testing.identities import trusted_identities
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events.erasure import PERSONAL_DATA_RETENTION, ErasureCompleted
from fraud.entrypoints.app import create_app as create_fraud
from fraud.settings import FraudSettings
from vault.entrypoints.app import create_app as create_vault
from vault.settings import VaultSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]

ERASING = ("auth", "aggregation", "fraud")


@pytest.fixture(scope="module")
def sandbox() -> Any:
    server = SandboxServer.start(page_size="50")
    try:
        yield server
    finally:
        server.stop()


@pytest_asyncio.fixture
async def platform(
    infra: Any, schema_name: str, sandbox: SandboxServer, tmp_path: Path
) -> AsyncIterator[dict[str, Any]]:
    tag = uuid.uuid4().hex[:8]
    trust = trusted_identities(tmp_path, "aggregation") / "trust"
    tokens = MemberTokens()
    schemas = {name: f"{schema_name}_{name}" for name in (*ERASING, "vault")}
    auth_settings = infra.settings(
        AuthSettings, service_name="auth", schema=schemas["auth"],
        public_base_url="http://testserver", pepper=secrets.token_urlsafe(32),
        key_encryption_key=secrets.token_urlsafe(32),
    )  # fmt: skip
    vault_settings = infra.settings(
        VaultSettings, service_name="vault", schema=schemas["vault"],
        service_trust_dir=str(trust), kms_key_file=str(tmp_path / "kms" / "master.key"),
        anchor_key_file=str(tmp_path / "vault" / "anchor.key"),
        anchor_dir=str(tmp_path / "vault" / "anchors"),
    )  # fmt: skip
    fraud_settings = infra.settings(
        FraudSettings, service_name="fraud", schema=schemas["fraud"],
        consumer_group_prefix=f"fraud-{tag}", report_check_seconds=3600,
    )  # fmt: skip
    aggregation_settings = infra.settings(
        AggregationSettings, service_name="aggregation", schema=schemas["aggregation"],
        ref_key="integration-reference-key-0123456789", agent_base_url=sandbox.base_url,
        callback_url="https://app.coffre.test/bank/callback", consent_vault="http",
        vault_url="http://vault.internal", auth_jwks_json=tokens.jwks_json,
        service_identity_key_file=str(tmp_path / "aggregation.key.pem"),
        scheduler_enabled=False, erasure_consumer_group=f"aggregation-erasure-{tag}",
    )  # fmt: skip
    mailer = RecordingMailer()
    auth_app = create_auth(auth_settings, sms=RecordingSmsSender(), mailer=mailer)
    vault_app = create_vault(vault_settings, erasure_consumer=f"vault-erasure-{tag}")
    fraud_app = create_fraud(fraud_settings)
    aggregation_app = create_aggregation(
        aggregation_settings, vault_transport=httpx.ASGITransport(app=vault_app)
    )
    bank = Bank(sandbox.base_url)
    async with (
        bank.client,
        running_app(auth_app) as auth,
        running_app(vault_app),
        running_app(fraud_app),
        running_app(aggregation_app) as aggregation,
    ):
        yield {
            "auth": auth, "aggregation": aggregation, "mailer": mailer, "tokens": tokens,
            "bank": bank, "schemas": schemas, "aggregation_app": aggregation_app,
            "dsn": infra.database_url, "bootstrap": infra.bootstrap_servers,
        }  # fmt: skip


async def _connect_bank(p: dict[str, Any], user_id: str) -> dict[str, Any]:
    headers = p["tokens"].headers(user_id)
    client: httpx.AsyncClient = p["aggregation"]
    started = await client.post("/v1/connections", json={}, headers=headers)
    assert started.status_code == 201, started.text
    state = await p["bank"].approve(started.json()["redirect_url"])
    done = await client.post("/v1/connections/callback", json={"state": state}, headers=headers)
    assert done.status_code == 200, done.text
    await p["aggregation_app"].state.container.idle()
    added: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "200"} | ({"cursor": cursor} if cursor else {})
        page = (await client.get("/v1/transactions/sync", params=params, headers=headers)).json()
        added += page["added"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert added, "the sandbox bank must have given transactions"
    body: dict[str, Any] = done.json()
    return {"accounts": [a["account_ref"] for a in body["accounts"]], "added": added}


async def _personal_data(
    p: dict[str, Any], user_id: str, email: str, bank: dict[str, Any]
) -> set[str]:
    listed = await p["bank"].control("GET", f"/sandbox/psus/{user_id}/accounts")
    ibans = [a["iban"] for a in listed["accounts"] if a.get("iban")]
    assert ibans, "the sandbox accounts must have IBANs"
    labels = {t["label"] for t in bank["added"] if len(t["label"]) >= 6}
    refs = {t["transaction_ref"] for t in bank["added"]}
    return {user_id, email, *bank["accounts"], *refs, *labels, *ibans, *(i[-8:] for i in ibans)}


async def _found_in_tables(dsn: str, schemas: list[str], needles: set[str]) -> list[str]:
    """Every (schema.table, needle) where a row, read as text, still holds a needle."""
    conn = await asyncpg.connect(dsn)
    try:
        columns = await conn.fetch(
            "SELECT table_schema, table_name, column_name, data_type FROM "
            "information_schema.columns WHERE table_schema = ANY($1::text[]) "
            "ORDER BY table_schema, table_name, ordinal_position",
            schemas,
        )
        tables: dict[str, list[str]] = {}
        for c in columns:
            name = f'"{c["column_name"]}"'
            text = f"encode({name}, 'escape')" if c["data_type"] == "bytea" else f"{name}::text"
            tables.setdefault(f'"{c["table_schema"]}"."{c["table_name"]}"', []).append(
                f"coalesce({text}, '')"
            )
        found = []
        for table, texts in tables.items():
            rows = await conn.fetch(f"SELECT concat_ws(' ', {', '.join(texts)}) AS t FROM {table}")
            found += [f"{table}: {n!r}" for r in rows for n in needles if n in r["t"]]
        return sorted(set(found))
    finally:
        await conn.close()


async def test_an_erased_members_data_is_in_no_table_and_no_outbox_of_any_service(
    platform: dict[str, Any],
) -> None:
    p = platform
    email = f"erase-{uuid.uuid4().hex[:8]}@example.org"
    user_id = await register(p["auth"], p["mailer"], email)
    tokens = (await login(p["auth"], email))["tokens"]
    bank = await _connect_bank(p, user_id)
    needles = await _personal_data(p, user_id, email, bank)
    schemas = list(p["schemas"].values())
    fraud = f'"{p["schemas"]["fraud"]}"'

    async def scored() -> bool:
        conn = await asyncpg.connect(p["dsn"])
        try:
            done = await conn.fetchval(
                f"SELECT count(*) FROM {fraud}.scores WHERE owner_ref = $1",
                user_id,
            )
        finally:
            await conn.close()
        return int(done) == len(bank["added"])

    await eventually(scored, timeout=60)
    assert await _found_in_tables(p["dsn"], schemas, needles), "the probe must see the data first"

    deleted = await p["auth"].post(
        "/v1/accounts/me/delete", json={"password": PASSWORD}, headers=bearer(tokens)
    )
    assert deleted.status_code == 202, deleted.text

    proofs: dict[str, Any] = {}

    async def every_part_done() -> bool:
        for record in await collect(
            p["bootstrap"], ErasureCompleted.topic(), count=1000, timeout=1
        ):
            payload = json.loads(record.value)["payload"]
            if payload["user_id"] == user_id:
                proofs[payload["service"]] = payload  # at-least-once: a part may come twice
        return set(ERASING) <= set(proofs)

    await eventually(every_part_done, timeout=90)
    assert set(ERASING) <= set(proofs), proofs.keys()
    for service in ERASING:
        proof = ErasureCompleted.model_validate(proofs[service])
        assert proof.events_on_broker_until is not None
        assert proof.events_on_broker_until >= proof.completed_at + PERSONAL_DATA_RETENTION
    last: list[str] = []

    async def clean() -> bool:
        last[:] = await _found_in_tables(p["dsn"], schemas[:3], needles)
        return not last

    try:
        await eventually(clean, timeout=60)
    except AssertionError:
        raise AssertionError(f"personal data left after erasure: {last}") from None
