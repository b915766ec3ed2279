"""Bank connections: start (consent + redirect link), callback, list, show, revoke.

Rules:
- Starting asks the agent for a consent valid `consent_validity_days` with at most
  `unattended_per_day` unattended reads; its token goes straight to the vault and only the
  vault reference is stored. If storing fails, the consent is deleted at the agent.
- The bank sends the member back with our `state` only; the callback finds the connection by
  the state's digest (locked, so duplicate callbacks serialise), checks it belongs to the
  calling member, is unused and on time, then reads the consent's status at the agent.
  A consent still `received` leaves the state usable; any other answer uses it up.
- A member sees and acts on their own connections only; another member's is "not found".
- An erased member (whose access token may still be valid for a few minutes) cannot start a
  connection: 410 `aggregation.member-erased`.
- Revoking ends the connection at once and tears the consent down (agent, then vault).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from common.logging import get_logger

from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.connections import Connection
from aggregation.domain.errors import (
    ConnectionNotFound,
    ConsentNotAuthorised,
    MemberErased,
    StateExpired,
    StateUnknown,
    TooManyConnections,
)
from aggregation.domain.refs import new_state, state_digest
from aggregation.service import teardown
from aggregation.service.context import Context, save_connection
from aggregation.service.ports import BankAccount, ConsentState, Store

log = get_logger(__name__)


@dataclass(frozen=True)
class StartedConnection:
    connection_id: uuid.UUID
    redirect_url: str
    state_expires_at: datetime


@dataclass(frozen=True)
class ConnectionView:
    connection: Connection
    accounts: list[LinkedAccount]


async def start_connection(
    ctx: Context, user_id: str, *, psu_id: str | None = None
) -> StartedConnection:
    async with ctx.uow() as uow:
        if await uow.erasure.is_erased(user_id):
            raise MemberErased()
        if await uow.connections.count_open(user_id) >= ctx.policy.max_open_connections:
            raise TooManyConnections(
                f"at most {ctx.policy.max_open_connections} connections may be open at once"
            )
    now = ctx.clock.now()
    state = new_state()
    created = await ctx.agent.create_consent(
        psu_id=psu_id or user_id,
        redirect_uri=_with_query(ctx.policy.callback_url, state=state),
        nok_redirect_uri=_with_query(ctx.policy.callback_url, state=state, outcome="denied"),
        valid_until=now.date() + timedelta(days=ctx.policy.consent_validity_days),
        frequency_per_day=ctx.policy.unattended_per_day,
    )
    try:
        vault_ref = await ctx.vault.store(user_id, created.token)
    except BaseException:
        await _quietly(ctx.agent.delete_consent(created.token))
        raise
    connection = Connection.pending(
        connection_id=uuid.uuid4(),
        user_id=user_id,
        state_digest=state_digest(state),
        vault_ref=vault_ref,
        frequency_per_day=ctx.policy.unattended_per_day,
        now=now,
        state_ttl=ctx.policy.state_ttl,
    )
    try:
        async with ctx.uow() as uow:
            await uow.connections.add(connection)
            await uow.commit()
    except BaseException:
        await _quietly(ctx.agent.delete_consent(created.token))
        await _quietly(ctx.vault.delete(user_id, vault_ref))
        raise
    log.info("connection_started", connection_id=str(connection.connection_id))
    return StartedConnection(
        connection.connection_id, created.sca_redirect, connection.state_expires_at
    )


async def complete_callback(
    ctx: Context, user_id: str, state: str, member_ip: str
) -> ConnectionView:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        connection = await uow.connections.by_state(state_digest(state))
        if connection is None or connection.user_id != user_id:
            raise StateUnknown()
        try:
            connection.claim_state(now)
        except StateExpired:
            connection.abandon(now)
            await save_connection(uow, connection)
            await uow.commit()
            raise
        assert connection.vault_ref is not None
        token = await ctx.vault.read(user_id, connection.vault_ref)
        info = await ctx.agent.consent(token)
        if info.state is ConsentState.RECEIVED:
            raise ConsentNotAuthorised("the member has not finished at the bank")
        accounts: list[LinkedAccount] = []
        if info.state is ConsentState.VALID:
            listed = await ctx.agent.accounts(token, member_ip)
            valid_until = info.valid_until or _default_expiry(ctx, now)
            connection.activate(now, valid_until, info.frequency_per_day or 1)
            accounts = await _link_accounts(ctx, uow, connection, listed, now)
        else:
            connection.reject(now)
        await save_connection(uow, connection)
        await uow.commit()
    log.info(
        "connection_callback",
        connection_id=str(connection.connection_id),
        status=connection.status.value,
        accounts=len(accounts),
    )
    return ConnectionView(connection, accounts)


async def _link_accounts(
    ctx: Context,
    store: Store,
    connection: Connection,
    listed: list[BankAccount],
    now: datetime,
) -> list[LinkedAccount]:
    for bank_account in listed:
        await store.accounts.upsert(
            LinkedAccount(
                account_ref=ctx.refs.account_ref(connection.user_id, bank_account.resource_id),
                user_id=connection.user_id,
                connection_id=connection.connection_id,
                resource_id=bank_account.resource_id,
                currency=bank_account.currency,
                next_sync_at=now + ctx.policy.first_pull_lease,
            )
        )
    return await store.accounts.of_connection(connection.connection_id)


async def list_connections(ctx: Context, user_id: str) -> list[ConnectionView]:
    async with ctx.uow() as uow:
        connections = await uow.connections.of_user(user_id)
        accounts = await uow.accounts.of_user(user_id)
    return [
        ConnectionView(c, [a for a in accounts if a.connection_id == c.connection_id])
        for c in sorted(connections, key=lambda c: c.created_at, reverse=True)
    ]


async def get_connection(ctx: Context, user_id: str, connection_id: uuid.UUID) -> ConnectionView:
    async with ctx.uow() as uow:
        connection = await owned(uow, user_id, connection_id)
        accounts = await uow.accounts.of_connection(connection_id)
    return ConnectionView(connection, accounts)


async def revoke_connection(ctx: Context, user_id: str, connection_id: uuid.UUID) -> None:
    async with ctx.uow() as uow:
        connection = await owned(uow, user_id, connection_id, for_update=True)
        connection.revoke(ctx.clock.now())
        queued = list(connection.teardowns)
        await save_connection(uow, connection)
        await uow.commit()
    log.info("connection_revoked", connection_id=str(connection_id))
    for item in queued:
        await teardown.settle(ctx, item)


async def owned(
    store: Store, user_id: str, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    connection = await store.connections.get(connection_id, for_update=for_update)
    if connection is None or connection.user_id != user_id:
        raise ConnectionNotFound()
    return connection


def _default_expiry(ctx: Context, now: datetime) -> date:
    return now.date() + timedelta(days=ctx.policy.consent_validity_days)


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _quietly(awaitable: Awaitable[object]) -> None:
    """Best-effort clean-up: log, never raise (the original error is what matters)."""
    try:
        await awaitable
    except Exception as exc:
        log.warning("cleanup_failed", error=type(exc).__name__)
