"""A first pull cut short by a crash is resumed when the service starts again, not 6 h later.

The crash is forced at the worst point: the first account's transactions are stored, the bank
is answering for the second account, and the pull is cancelled there (as a process dying
mid-request would stop it). The service then stops, starts again on the same database, and the
missing transactions arrive without the scheduler, each once.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from aggregation_it_conftest import running_stack
from aggregation_it_helpers import Bank, MemberTokens, SandboxServer
from coffre_testing.kafka import collect
from coffre_testing.waiting import eventually
from common.events import Envelope
from common.events.aggregation import TransactionIngested

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


class DiesOnSecondAccount(httpx.AsyncBaseTransport):
    """The bank's answers, until the first read of a second account: that one never returns."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.accounts: set[str] = set()
        self.stalled = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/transactions") and path not in self.accounts:
            self.accounts.add(path)
            if len(self.accounts) == 2:
                self.stalled.set()
                await asyncio.Event().wait()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _member_with_two_accounts(bank: Bank) -> str:
    """The sandbox derives each member's accounts from their id: find one with two."""
    for _ in range(100):
        member = str(uuid.uuid4())
        listed = await bank.control("GET", f"/sandbox/psus/{member}/accounts")
        if len(listed["accounts"]) == 2:
            return member
    raise AssertionError("the sandbox gave no member two accounts")


async def test_a_first_pull_cut_short_by_a_crash_resumes_at_start_without_duplicates(
    infra: Any,
    schema_name: str,
    sandbox: SandboxServer,
    bank: Bank,
    identity_dir: Path,
    tokens: MemberTokens,
    tmp_path: Path,
) -> None:
    member = await _member_with_two_accounts(bank)
    wiring = (infra, schema_name, sandbox, bank, identity_dir, tokens, tmp_path)
    dying = DiesOnSecondAccount()
    async with running_stack(
        *wiring, agent_timeout_seconds=60, container_overrides={"agent_transport": dying}
    ) as first:
        connection = await first.connect(member)
        assert len(connection["accounts"]) == 2, "the sandbox member has two accounts"
        await asyncio.wait_for(dying.stalled.wait(), 30)
        for task in list(first.container._tasks):
            task.cancel()
        await first.container.idle()
        before, _ = await first.feed(member)
        unsynced = await first.db.fetchval(
            "SELECT count(*) FROM accounts WHERE user_id = $1 AND synced_through IS NULL", member
        )
        assert unsynced == 1, "the crash must leave one account never pulled"
        due = await first.db.fetchval(
            "SELECT max(next_sync_at) - now() FROM accounts WHERE user_id = $1", member
        )
        assert due.total_seconds() > 3600, "the pulled account is next due hours later"
    expected = await bank.transaction_count(member)
    assert 0 < len(before["added"]) < expected
    async with running_stack(*wiring) as second:
        assert second.settings.scheduler_enabled is False

        async def all_arrived() -> bool:
            changes, _ = await second.feed(member)
            return len(changes["added"]) >= expected

        await eventually(all_arrived, timeout=60)
        await second.container.idle()
        changes, _ = await second.feed(member)
    refs = [t["transaction_ref"] for t in changes["added"]]
    assert len(refs) == len(set(refs)) == expected
    records = await collect(
        infra.bootstrap_servers, TransactionIngested.topic(), count=expected + 1, timeout=10,
        where=lambda r: member.encode() in r.value,
    )  # fmt: skip
    published = [Envelope.model_validate_json(r.value).payload["transaction_ref"] for r in records]
    assert sorted(published) == sorted(refs), "each transaction is published exactly once"
