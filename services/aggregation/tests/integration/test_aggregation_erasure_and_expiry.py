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
from aggregation_it_conftest import Stack, running_stack
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer, publish_erasure
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events import Envelope
from common.events.aggregation import ConsentExpiring
from common.events.erasure import ErasureCompleted
from common.security.service_identity import ServiceTokenIssuer
from vault.service.erasure import erase_subject

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
USER_TABLES = ("connections", "accounts", "transactions", "account_pulls", "member_feeds")


async def _erasure_parts(
    infra: Any, request_id: str, vault_mark: bytes = b'"vault"'
) -> dict[str, dict[str, Any]]:
    """Aggregation's part, and the vault's completion (after its hold, or at once)."""
    records = await collect(
        infra.bootstrap_servers, ErasureCompleted.topic(), count=2, timeout=30,
        where=lambda r: request_id.encode() in r.value and (
            b'"aggregation"' in r.value or (b'"vault"' in r.value and vault_mark in r.value)
        ),
    )  # fmt: skip
    parts = [Envelope.model_validate_json(r.value).payload for r in records]
    return {p["service"]: p for p in parts}


async def _consent_status(stack: Stack, token: str) -> str:
    status = await stack.bank.control(
        "GET", f"/v1/consents/{token}/status", headers={"X-Request-ID": str(uuid.uuid4())}
    )
    found: str = status["consentStatus"]
    return found


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
    parts = await _erasure_parts(infra, request_id)
    assert set(parts) == {"aggregation", "vault"}
    payload = parts["aggregation"]
    proof = payload["proof"]
    assert payload["user_id"] == member
    assert proof["transactions_deleted"] > 0
    for table in USER_TABLES:
        count = await stack.db.fetchval(f"SELECT count(*) FROM {table} WHERE user_id = $1", member)
        assert count == 0, table
    with pytest.raises(ConsentSecretMissing):
        await stack.container.ctx.vault.read(member, ref)
    # Whichever consumer runs first, the consent ends at the bank: the vault holds the token
    # for aggregation until it is deleted (vault.domain.erasure).
    assert proof["consents_revoked"] == 1
    assert await _consent_status(stack, token) == "terminatedByTpp"


async def test_vault_erasing_first_still_lets_aggregation_revoke_the_consent_at_the_bank(
    stack: Stack, member: str, infra: Any
) -> None:
    """The race on ErasureRequested, forced: the vault's part runs to the end before
    aggregation's starts. The consent token is held for aggregation, which ends the consent at
    the bank and deletes the token; that deletion completes the vault's erasure."""
    await stack.connect(member)
    await stack.container.idle()
    token = await stack.token_of(member)
    request_id = f"erase-{uuid.uuid4().hex[:8]}"
    held = await erase_subject(stack.vault_app.state.container.ctx, member, request_id)
    assert held.held_until is not None
    await publish_erasure(infra.bootstrap_servers, member, request_id)
    parts = await _erasure_parts(infra, request_id, vault_mark=b'"released"')
    assert set(parts) == {"aggregation", "vault"}
    assert parts["aggregation"]["proof"]["consents_revoked"] == 1
    assert parts["aggregation"]["proof"]["consent_tokens_already_gone"] == 0
    assert parts["vault"]["proof"]["released"] == "consents-revoked"
    assert await _consent_status(stack, token) == "terminatedByTpp"
    issuer = ServiceTokenIssuer.from_file(
        "aggregation", str(stack.settings.service_identity_key_file)
    )
    gone = await stack.vault_client.get(
        f"/v1/subjects/{member}/secrets/psd2-consent/any", headers=issuer.headers_for("vault")
    )
    assert (gone.status_code, gone.json()["code"]) == (410, "vault.subject-erased")


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
        valid_until = (clock.now() + timedelta(days=180)).date().isoformat()
        assert connection["consent_valid_until"] == valid_until
        at_bank = await stack.bank.control(
            "GET", f"/v1/consents/{await stack.token_of(member)}",
            headers={"X-Request-ID": str(uuid.uuid4())},
        )  # fmt: skip
        assert at_bank["validUntil"] == valid_until
        assert at_bank["frequencyPerDay"] == 4
        assert "balances" not in str(at_bank["access"])
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
    connection = await stack.connect(member)
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
    refresh = f"/v1/connections/{connection['connection_id']}/refresh"
    for _ in range(2):
        answer = await stack.client.post(refresh, headers=stack.headers(member))
        assert answer.status_code == 200, answer.text
    after = await stack.bank.control("GET", f"/sandbox/consents/{token}/usage")
    assert after["unattended"] == usage["unattended"]


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


@pytest.mark.parametrize(
    ("control", "status", "reason"),
    [("revoke", "ended_at_bank", "revoked"), ("expire", "expired", None)],
)
async def test_a_consent_ended_at_the_bank_ends_the_connection_and_its_token(
    stack: Stack, member: str, control: str, status: str, reason: str | None
) -> None:
    connection = await stack.connect(member)
    await stack.container.idle()
    token = await stack.token_of(member)
    await stack.bank.control("POST", f"/sandbox/consents/{token}/{control}")
    refresh = f"/v1/connections/{connection['connection_id']}/refresh"
    answer = await stack.client.post(refresh, headers=stack.headers(member))
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "aggregation.consent-ended"
    shown = await stack.client.get(
        f"/v1/connections/{connection['connection_id']}", headers=stack.headers(member)
    )
    assert shown.json()["status"] == status
    assert await stack.db.fetchval("SELECT vault_ref FROM connections") is None
    assert await stack.db.fetchval("SELECT count(*) FROM teardowns") == 0
    assert (
        await stack.db.fetchval(
            "SELECT count(*) FROM accounts a JOIN connections c USING (connection_id)"
            " WHERE c.status = 'active'"
        )
        == 0
    )
    again = await stack.client.post(refresh, headers=stack.headers(member))
    assert (again.status_code, again.json()["code"]) == (409, "aggregation.connection-not-active")
    if reason is not None:
        assert answer.json().get("reason") == reason
