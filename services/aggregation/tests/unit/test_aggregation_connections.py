"""Connections: start, callback by state, list, revoke."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from aggregation.domain.connections import ConnectionStatus
from aggregation.domain.errors import (
    ConnectionNotFound,
    ConsentNotAuthorised,
    StateAlreadyUsed,
    StateExpired,
    StateUnknown,
    TooManyConnections,
)
from aggregation.service import connections, teardown
from aggregation_unit_helpers import MEMBER_IP, Harness

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]


async def test_consent_token_goes_to_the_vault_and_only_its_ref_is_kept(h: Harness) -> None:
    user = h.user()
    view = await h.connect(user)
    stored = h.state.connections[view.connection.connection_id]
    assert stored.status is ConnectionStatus.ACTIVE
    assert stored.vault_ref is not None
    token = h.vault.secrets[(user, stored.vault_ref)]
    assert token not in repr(h.state)
    assert len(view.accounts) >= 1


async def test_callback_finds_the_connection_by_state_and_activates_it(h: Harness) -> None:
    user = h.user()
    state = await h.start_and_approve(user)
    view = await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    assert view.connection.status is ConnectionStatus.ACTIVE
    assert view.connection.consent_valid_until is not None
    assert (view.connection.consent_valid_until - h.clock.now().date()).days == 180
    assert view.connection.frequency_per_day == 4


async def test_replayed_callback_state_is_refused(h: Harness) -> None:
    user = h.user()
    state = await h.start_and_approve(user)
    await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    with pytest.raises(StateAlreadyUsed):
        await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    assert len(await connections.list_connections(h.ctx, user)) == 1


async def test_state_of_another_member_is_unknown(h: Harness) -> None:
    state = await h.start_and_approve(h.user())
    with pytest.raises(StateUnknown):
        await connections.complete_callback(h.ctx, h.user(), state, MEMBER_IP)


async def test_made_up_state_is_unknown(h: Harness) -> None:
    with pytest.raises(StateUnknown):
        await connections.complete_callback(h.ctx, h.user(), "not-a-state", MEMBER_IP)


async def test_late_callback_abandons_the_connection_and_tears_the_consent_down(
    h: Harness,
) -> None:
    user = h.user()
    state = await h.start_and_approve(user)
    h.advance(minutes=16)
    with pytest.raises(StateExpired):
        await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    (conn,) = h.state.connections.values()
    assert conn.status is ConnectionStatus.ABANDONED
    assert conn.vault_ref is None
    assert await teardown.run_teardowns(h.ctx) == 1
    assert h.vault.secrets == {}


async def test_callback_before_the_member_decided_keeps_the_state_usable(h: Harness) -> None:
    user = h.user()
    started, state = await h.start(user)
    with pytest.raises(ConsentNotAuthorised):
        await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    assert (await h.bank.get(urlsplit(started.redirect_url).path)).status_code == 302
    view = await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    assert view.connection.status is ConnectionStatus.ACTIVE


async def test_refused_consent_rejects_the_connection(h: Harness) -> None:
    user = h.user()
    state = await h.start_and_approve(user, approve=False)
    view = await connections.complete_callback(h.ctx, user, state, MEMBER_IP)
    assert view.connection.status is ConnectionStatus.REJECTED
    assert view.accounts == []


async def test_member_sees_only_their_own_connections(h: Harness) -> None:
    alice, bob = h.user(), h.user()
    view = await h.connect(alice)
    assert await connections.list_connections(h.ctx, bob) == []
    with pytest.raises(ConnectionNotFound):
        await connections.get_connection(h.ctx, bob, view.connection.connection_id)
    with pytest.raises(ConnectionNotFound):
        await connections.revoke_connection(h.ctx, bob, view.connection.connection_id)


async def test_revoke_ends_the_consent_at_the_bank_and_deletes_the_token(h: Harness) -> None:
    user = h.user()
    view = await h.connect(user)
    token = next(iter(h.vault.secrets.values()))
    await connections.revoke_connection(h.ctx, user, view.connection.connection_id)
    status = await h.control("GET", f"/v1/consents/{token}/status", headers=_rid())
    assert status["consentStatus"] == "terminatedByTpp"
    assert h.vault.secrets == {}
    assert h.state.teardowns == {}
    shown = await connections.get_connection(h.ctx, user, view.connection.connection_id)
    assert shown.connection.status is ConnectionStatus.REVOKED


async def test_revoke_while_the_bank_is_down_is_retried_later(h: Harness) -> None:
    user = h.user()
    view = await h.connect(user)
    await h.fault("error503", count=3, pathPrefix="/v1/consents")
    await connections.revoke_connection(h.ctx, user, view.connection.connection_id)
    assert len(h.state.teardowns) == 1
    assert h.vault.secrets != {}
    h.advance(minutes=5)
    assert await teardown.run_teardowns(h.ctx) == 1
    assert h.vault.secrets == {}


async def test_open_connections_are_limited_per_member() -> None:
    h = Harness(max_open_connections=2)
    user = h.user()
    await h.connect(user)
    await h.connect(user)
    with pytest.raises(TooManyConnections):
        await connections.start_connection(h.ctx, user)


async def test_vault_failure_on_start_deletes_the_consent_at_the_bank(h: Harness) -> None:
    from aggregation.domain.errors import VaultUnavailable

    h.vault.down = True
    with pytest.raises(VaultUnavailable):
        await connections.start_connection(h.ctx, h.user())
    assert h.state.connections == {}


def _rid() -> dict[str, str]:
    import uuid

    return {"X-Request-ID": str(uuid.uuid4())}
