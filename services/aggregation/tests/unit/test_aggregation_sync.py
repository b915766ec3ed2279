"""Sync: incremental pulls, de-duplication, pending→booked, limits, agent failures."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from aggregation.domain.connections import ConnectionStatus
from aggregation.domain.errors import (
    AgentUnavailable,
    ConsentEnded,
    ConsentSecretMissing,
    RefreshTooSoon,
)
from aggregation.domain.transactions import TxStatus
from aggregation.service import sync
from aggregation_unit_helpers import MEMBER_IP, Harness
from coffre_testing.waiting import patient
from common.events.aggregation import TransactionIngested, TransactionUpdated
from sandbox_bank.testing import bg_headers

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def _connected(h: Harness) -> tuple[str, uuid.UUID, str]:
    user = h.user()
    view = await h.connect(user)
    token = h.vault.secrets[(user, view.connection.vault_ref or "")]
    return user, view.connection.connection_id, token


async def _bank_count(h: Harness, user: str) -> int:
    listed = await h.control("GET", f"/sandbox/psus/{user}/accounts")
    return sum(a["transactionCount"] for a in listed["accounts"])


def _all_due(h: Harness) -> None:
    for account in h.state.accounts.values():
        account.next_sync_at = h.clock.now()


async def test_first_refresh_ingests_every_transaction_once(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert report.added == await _bank_count(h, user) == len(h.state.transactions)
    events = h.state.events(TransactionIngested)
    assert len(events) == report.added
    assert {key for _, _, key in h.state.published} == set(h.state.accounts)
    assert all(subject == user for _, subject, _ in h.state.published)


async def test_second_refresh_duplicates_nothing(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    before = (len(h.state.transactions), len(h.state.published))
    h.advance(minutes=2)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert (report.added, report.modified, report.removed) == (0, 0, 0)
    assert (len(h.state.transactions), len(h.state.published)) == before


async def test_new_transactions_are_picked_up_incrementally(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    account = next(iter(h.state.accounts.values()))
    body = {"amount": "-23.40", "counterpartyName": "Boulangerie Paul"}
    await h.control("POST", f"/sandbox/accounts/{account.resource_id}/transactions", json=body)
    h.advance(minutes=2)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert report.added == 1
    event = h.state.events(TransactionIngested)[-1]
    assert isinstance(event, TransactionIngested)
    assert (event.amount, event.currency, event.status) == ("-23.40", "EUR", "booked")
    assert event.label == "BOULANGERIE PAUL"
    assert event.account_ref == account.account_ref


async def test_pending_that_books_is_updated_not_duplicated(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    account = next(iter(h.state.accounts.values()))
    body = {"amount": "-61.00", "counterpartyName": "Garage", "bookingStatus": "pending"}
    await h.control("POST", f"/sandbox/accounts/{account.resource_id}/transactions", json=body)
    h.advance(minutes=2)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    ingested = h.state.events(TransactionIngested)[-1]
    assert isinstance(ingested, TransactionIngested)
    assert ingested.status == "pending"
    count = len(h.state.transactions)
    await h.control("POST", f"/sandbox/accounts/{account.resource_id}/book-pending")
    h.advance(minutes=2)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert report.added == 0
    assert report.modified >= 1
    assert len(h.state.transactions) == count
    updates = [e for e in h.state.events(TransactionUpdated) if isinstance(e, TransactionUpdated)]
    mine = [e for e in updates if e.transaction_ref == ingested.transaction_ref]
    assert len(mine) == 1
    assert (mine[0].status, mine[0].previous_status) == ("booked", "pending")
    assert h.state.transactions[ingested.transaction_ref].facts.status is TxStatus.BOOKED


async def test_pending_transactions_book_with_time_without_duplicates(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    pending = [r for r in h.state.transactions.values() if r.facts.status is TxStatus.PENDING]
    assert pending, "the sandbox always has today's card payments pending"
    h.advance(days=3)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    for row in pending:
        assert h.state.transactions[row.transaction_ref].facts.status is TxStatus.BOOKED
    assert len(h.state.transactions) == await _bank_count(h, user)


async def test_member_refresh_is_limited_to_one_a_minute(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    with pytest.raises(RefreshTooSoon) as caught:
        await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert 0 < caught.value.retry_after <= 60


async def test_unattended_pulls_stop_at_four_per_account_per_day(h: Harness) -> None:
    _user, _, token = await _connected(h)
    pulls = 0
    for _ in range(7):
        _all_due(h)
        report = await sync.run_due_syncs(h.ctx)
        pulls += report.accounts
        h.advance(minutes=30)
    accounts = len(h.state.accounts)
    assert pulls == 4 * accounts
    usage = await h.control("GET", f"/sandbox/consents/{token}/usage")
    assert all(count <= 4 for count in usage["unattended"].values())
    assert all(a.next_sync_at > h.clock.now() for a in h.state.accounts.values())
    h.advance(hours=24)
    _all_due(h)
    assert (await sync.run_due_syncs(h.ctx)).accounts == accounts


async def test_member_refresh_works_when_the_unattended_budget_is_spent(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    for _ in range(4):
        _all_due(h)
        await sync.run_due_syncs(h.ctx)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert report.accounts == len(h.state.accounts)
    assert report.failed == 0


async def test_unattended_pulls_are_spread_over_the_day(h: Harness) -> None:
    await _connected(h)
    _all_due(h)
    await sync.run_due_syncs(h.ctx)
    for account in h.state.accounts.values():
        assert account.next_sync_at == h.clock.now() + timedelta(hours=6)
    assert (await sync.run_due_syncs(h.ctx)).accounts == 0


async def test_bank_429_reschedules_after_retry_after(h: Harness) -> None:
    _user, _, token = await _connected(h)
    account = next(iter(h.state.accounts.values()))
    path = f"/v1/accounts/{account.resource_id}/transactions"
    for _ in range(4):  # someone else spent the consent's budget at the bank
        params = {"bookingStatus": "booked", "dateFrom": "2000-01-01"}
        await h.bank.get(path, params=params, headers=bg_headers(token))
    _all_due(h)
    report = await sync.run_due_syncs(h.ctx)
    assert report.failed >= 1
    held = h.state.accounts[account.account_ref]
    assert held.failures == 1
    assert held.next_sync_at >= h.clock.now() + timedelta(hours=1)


async def test_server_errors_before_work_are_retried(h: Harness) -> None:
    _user, _cid, _ = await _connected(h)
    await h.fault("error503", count=2, pathPrefix="/v1/accounts/")
    _all_due(h)
    report = await sync.run_due_syncs(h.ctx)
    assert report.failed == 0
    assert report.added == len(h.state.transactions) > 0


async def test_malformed_unattended_first_page_backs_off_instead_of_spending_budget(
    h: Harness,
) -> None:
    await _connected(h)
    await h.fault("malformed", count=1, pathPrefix="/v1/accounts/")
    _all_due(h)
    report = await sync.run_due_syncs(h.ctx)
    assert report.failed == 1
    failed = [a for a in h.state.accounts.values() if a.failures == 1]
    assert len(failed) == 1
    assert failed[0].next_sync_at == h.clock.now() + timedelta(minutes=2)
    assert len(h.state.pulls) == len(h.state.accounts)


async def test_malformed_and_slow_answers_are_retried_when_the_member_is_present() -> None:
    h = Harness(agent_timeout=patient(2.0))  # far below the fault's 60 s delay
    user, cid, _ = await _connected(h)
    await h.fault("malformed", count=1, pathPrefix="/v1/accounts/")
    await h.fault("slow", count=1, pathPrefix="/v1/accounts/", delaySeconds=60)
    report = await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert report.failed == 0
    assert report.added == await _bank_count(h, user)


async def test_agent_down_for_good_fails_the_refresh_with_a_clear_error(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    await h.fault("error500", count=10, pathPrefix="/v1/accounts")
    with pytest.raises(AgentUnavailable):
        await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert h.state.transactions == {}


async def test_consent_revoked_at_the_bank_ends_the_connection(h: Harness) -> None:
    user, cid, token = await _connected(h)
    await h.control("POST", f"/sandbox/consents/{token}/revoke")
    _all_due(h)
    report = await sync.run_due_syncs(h.ctx)
    assert report.failed >= 1
    connection = h.state.connections[cid]
    assert connection.status is ConnectionStatus.ENDED_AT_BANK
    assert h.vault.secrets == {}
    with pytest.raises(Exception) as caught:
        await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert getattr(caught.value, "code", "") == "aggregation.connection-not-active"


async def test_expired_consent_at_the_bank_expires_the_connection(h: Harness) -> None:
    user, cid, token = await _connected(h)
    await h.control("POST", f"/sandbox/consents/{token}/expire")
    with pytest.raises(ConsentEnded):
        await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert h.state.connections[cid].status is ConnectionStatus.EXPIRED


async def test_token_missing_from_the_vault_ends_the_connection(h: Harness) -> None:
    user, cid, _ = await _connected(h)
    h.vault.erase(user)
    with pytest.raises(ConsentSecretMissing):
        await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    assert h.state.connections[cid].status is ConnectionStatus.ENDED_AT_BANK
