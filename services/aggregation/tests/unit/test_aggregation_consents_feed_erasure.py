"""Consent expiry warnings, the member's change feed, and erasure."""

from __future__ import annotations

import pytest
from aggregation.adapters.memory import MemoryUnitOfWork
from aggregation.domain.connections import ConnectionStatus
from aggregation.domain.errors import CursorInvalid, MemberErased
from aggregation.service import connections, consents, erasure, feed, scheduler, sync
from aggregation_unit_helpers import MEMBER_IP, Harness
from common.events.aggregation import ConsentExpiring
from common.events.erasure import ErasureCompleted

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_consent_expiring_is_published_once_a_week_ahead(h: Harness) -> None:
    user = h.user()
    view = await h.connect(user)
    assert await consents.check_expiry(h.ctx) == (0, 0)
    h.advance(days=172)
    assert await consents.check_expiry(h.ctx) == (0, 0)
    h.advance(days=1)
    assert await consents.check_expiry(h.ctx) == (1, 0)
    h.advance(days=1)
    assert await consents.check_expiry(h.ctx) == (0, 0)
    (event,) = h.state.events(ConsentExpiring)
    assert isinstance(event, ConsentExpiring)
    assert event.connection_id == str(view.connection.connection_id)
    assert (event.days_left, event.user_id) == (7, user)
    assert event.expires_on == view.connection.consent_valid_until


async def test_consent_past_its_validity_expires_and_its_token_is_deleted(h: Harness) -> None:
    view = await h.connect(h.user())
    h.advance(days=181)
    _warned, expired = await consents.check_expiry(h.ctx)
    assert expired == 1
    assert h.state.connections[view.connection.connection_id].status is ConnectionStatus.EXPIRED
    assert h.vault.secrets == {}
    assert (await sync.run_due_syncs(h.ctx)).accounts == 0


async def test_abandoned_attempts_are_cleaned_up_by_the_scheduler(h: Harness) -> None:
    await h.start_and_approve(h.user())
    h.advance(minutes=20)
    report = await scheduler.run_pass(h.ctx)
    assert (report.abandoned, report.torn_down) == (1, 0)
    assert h.vault.secrets == {}


async def _synced(h: Harness) -> tuple[str, str]:
    user = h.user()
    view = await h.connect(user)
    await sync.refresh_connection(h.ctx, user, view.connection.connection_id, MEMBER_IP)
    return user, str(view.connection.connection_id)


async def test_feed_pages_through_every_transaction_then_reports_nothing(h: Harness) -> None:
    user, _ = await _synced(h)
    seen: list[str] = []
    cursor = None
    while True:
        page = await feed.changes_since(h.ctx, user, cursor, 50)
        seen += [row.transaction_ref for row in page.added]
        assert page.modified == page.removed == []
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert sorted(seen) == sorted(h.state.transactions)
    again = await feed.changes_since(h.ctx, user, cursor, 50)
    assert (again.added, again.modified, again.removed, again.has_more) == ([], [], [], False)
    assert again.next_cursor == cursor


async def test_feed_reports_a_booking_as_modified(h: Harness) -> None:
    user, _ = await _synced(h)
    cursor = (await feed.changes_since(h.ctx, user, None, 500)).next_cursor
    h.advance(days=3)
    cid = next(iter(h.state.connections))
    await sync.refresh_connection(h.ctx, user, cid, MEMBER_IP)
    page = await feed.changes_since(h.ctx, user, cursor, 500)
    assert page.modified
    assert all(row.facts.status.value == "booked" for row in page.modified)
    assert {r.transaction_ref for r in page.modified}.isdisjoint(
        r.transaction_ref for r in page.added
    )


async def test_feed_of_another_member_is_empty(h: Harness) -> None:
    await _synced(h)
    page = await feed.changes_since(h.ctx, h.user(), None, 100)
    assert (page.added, page.has_more) == ([], False)


@pytest.mark.parametrize("cursor", ["garbage", "YWdnMTotNQ", "x" * 80, "YWdnMTphYmM"])
async def test_tampered_cursor_is_refused(h: Harness, cursor: str) -> None:
    with pytest.raises(CursorInvalid):
        await feed.changes_since(h.ctx, h.user(), cursor, 10)


async def _erase(h: Harness, user: str) -> MemoryUnitOfWork:
    async with h.ctx.uow() as uow:
        assert isinstance(uow, MemoryUnitOfWork)
        await erasure.erase_member(h.ctx, uow, user, "req-1")
        await uow.commit()
    return uow


async def test_erasure_revokes_at_the_bank_deletes_tokens_and_every_row(h: Harness) -> None:
    user, _ = await _synced(h)
    other, _ = await _synced(h)
    token = h.vault.secrets[next(k for k in h.vault.secrets if k[0] == user)]
    await _erase(h, user)
    status = await h.control("GET", f"/v1/consents/{token}/status", headers=_rid())
    assert status["consentStatus"] == "terminatedByTpp"
    assert all(k[0] != user for k in h.vault.secrets)
    assert all(r.user_id != user for r in h.state.transactions.values())
    assert all(a.user_id != user for a in h.state.accounts.values())
    assert all(c.user_id != user for c in h.state.connections.values())
    assert any(r.user_id == other for r in h.state.transactions.values())
    (done,) = h.state.events(ErasureCompleted)
    assert isinstance(done, ErasureCompleted)
    assert (done.service, done.request_id, done.user_id) == ("aggregation", "req-1", user)
    assert done.proof["consents_revoked"] == 1
    assert int(done.proof["transactions_deleted"]) > 0


async def test_erasure_proof_counts_a_revoked_consents_token_as_deleted_too(h: Harness) -> None:
    user, _ = await _synced(h)
    await _erase(h, user)
    (done,) = h.state.events(ErasureCompleted)
    assert isinstance(done, ErasureCompleted)
    counts = ("consents_revoked", "consent_tokens_deleted", "consent_tokens_already_gone")
    assert [done.proof[name] for name in counts] == [1, 1, 0]
    assert done.events_on_broker_until is not None
    assert done.events_on_broker_until > done.completed_at


async def test_an_erased_member_cannot_start_a_new_connection(h: Harness) -> None:
    user, _ = await _synced(h)
    await _erase(h, user)
    with pytest.raises(MemberErased):
        await connections.start_connection(h.ctx, user)


async def test_erasure_with_the_bank_down_still_deletes_and_queues_the_revocation(
    h: Harness,
) -> None:
    user, _ = await _synced(h)
    await h.fault("error503", count=10, pathPrefix="/v1/consents")
    await _erase(h, user)
    assert h.state.transactions == {}
    assert len(h.state.teardowns) == 1
    (done,) = h.state.events(ErasureCompleted)
    assert isinstance(done, ErasureCompleted)
    assert done.proof["consent_teardowns_queued"] == 1
    await h.control("DELETE", "/sandbox/faults")
    h.advance(minutes=5)
    assert (await scheduler.run_pass(h.ctx)).torn_down == 1
    assert h.vault.secrets == {}


async def test_erasure_after_the_vault_shredded_the_member_still_completes(h: Harness) -> None:
    user, _ = await _synced(h)
    h.vault.erase(user)
    await _erase(h, user)
    assert h.state.teardowns == {}
    (done,) = h.state.events(ErasureCompleted)
    assert isinstance(done, ErasureCompleted)
    assert (done.proof["consents_revoked"], done.proof["consent_tokens_already_gone"]) == (0, 1)


def _rid() -> dict[str, str]:
    import uuid

    return {"X-Request-ID": str(uuid.uuid4())}
