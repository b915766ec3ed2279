"""Erasure on ErasureRequested, ConsentExpiring ahead of time, and the unattended scheduler."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aggregation.adapters.clock import ManualClock
from aggregation.domain.errors import ConsentSecretMissing
from aggregation.service import scheduler
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer, publish_erasure
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events import Envelope
from common.events.aggregation import ConsentExpiring
from common.events.erasure import ErasureCompleted
from conftest import Stack, running_stack

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
USER_TABLES = ("connections", "accounts", "transactions", "account_pulls", "member_feeds")


async def test_erasure_revokes_deletes_and_publishes_its_part(
    stack: Stack, member: str, infra: Any
) -> None:
    await stack.connect(member)
    await stack.container.idle()
    token = await stack.token_of(member)
    ref = await stack.db.fetchval("SELECT vault_ref FROM connections")
    assert await stack.db.fetchval("SELECT count(*) FROM transactions") > 0
    request_id = f"erase-{uuid.uuid4().hex[:8]}"
    await publish_erasure(infra.bootstrap_servers, member, request_id)
    records = await collect(
        infra.bootstrap_servers, ErasureCompleted.topic(), count=1, timeout=30,
        where=lambda r: request_id.encode() in r.value and b'"aggregation"' in r.value,
    )  # fmt: skip
    assert len(records) == 1
    payload = Envelope.model_validate_json(records[0].value).payload
    proof = payload["proof"]
    assert (payload["user_id"], payload["service"]) == (member, "aggregation")
    assert proof["transactions_deleted"] > 0
    for table in USER_TABLES:
        count = await stack.db.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", member)
        assert count == 0, table
    with pytest.raises(ConsentSecretMissing):
        await stack.container.ctx.vault.read(member, ref)
    status = await stack.bank.control(
        "GET", f"/v1/consents/{token}/status", headers={"X-Request-ID": str(uuid.uuid4())}
    )
    # The vault's own erasure may shred the member's keys first; then the token cannot be read
    # to revoke it, and the consent lapses at the bank on its own (nobody can use it).
    if proof["consents_revoked"] == 1:
        assert status["consentStatus"] == "terminatedByTpp"
    else:
        assert proof["consent_tokens_already_gone"] == 1


async def test_consent_expiring_is_published_a_week_ahead_then_the_connection_expires(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
    member: str,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path,
        container_overrides={"clock": clock}, initial_sync=False,
    ) as stack:  # fmt: skip
        connection = await stack.connect(member)
        clock.advance(timedelta(days=173))
        assert (await scheduler.run_pass(stack.container.ctx)).warned == 1
        assert (await scheduler.run_pass(stack.container.ctx)).warned == 0
        records = await collect(
            infra.bootstrap_servers, ConsentExpiring.topic(), count=1, timeout=20,
            where=lambda r: member.encode() in r.value,
        )  # fmt: skip
        payload = Envelope.model_validate_json(records[0].value).payload
        assert payload["connection_id"] == connection["connection_id"]
        assert payload["expires_on"] == connection["consent_valid_until"]
        assert payload["days_left"] == 7
        clock.advance(timedelta(days=8))
        assert (await scheduler.run_pass(stack.container.ctx)).expired == 1
        shown = await stack.client.get(
            f"/v1/connections/{connection['connection_id']}", headers=stack.headers(member)
        )
        assert shown.json()["status"] == "expired"
        assert await stack.db.fetchval("SELECT vault_ref FROM connections") is None
        assert await stack.db.fetchval("SELECT count(*) FROM teardowns") == 0


async def test_unattended_pulls_never_exceed_four_per_account_per_day(
    stack: Stack, member: str
) -> None:
    await stack.connect(member)
    await stack.container.idle()
    token = await stack.token_of(member)
    for _ in range(6):
        await stack.db.fetchval("UPDATE accounts SET next_sync_at = now()")
        await scheduler.run_pass(stack.container.ctx)
    accounts = await stack.db.fetchval("SELECT count(*) FROM accounts")
    pulls = await stack.db.fetchval("SELECT count(*) FROM account_pulls WHERE NOT attended")
    assert pulls == 4 * accounts
    usage = await stack.bank.control("GET", f"/sandbox/consents/{token}/usage")
    assert all(count <= 4 for count in usage["unattended"].values())
    assert await stack.db.fetchval("SELECT max(failures) FROM accounts") == 0


async def test_the_scheduler_pulls_due_accounts_on_its_own(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
    member: str,
) -> None:
    async with running_stack(
        infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path,
        scheduler_enabled=True, scheduler_interval_seconds=0.2, initial_sync=False,
    ) as stack:  # fmt: skip
        await stack.connect(member)
        await stack.db.fetchval("UPDATE accounts SET next_sync_at = now()")

        async def pulled() -> bool:
            return bool(await stack.db.fetchval("SELECT count(*) FROM transactions"))

        await eventually(pulled)
        assert await stack.db.fetchval("SELECT bool_and(NOT attended) FROM account_pulls")
