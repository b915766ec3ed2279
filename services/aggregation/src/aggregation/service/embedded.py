"""Sealed bank credentials and bank connections by embedded SCA.

Rules:
- The member seals their bank credentials on their device with the vault's public key, bound
  to their own id and the purpose `bank-credentials`; aggregation passes the envelope to the
  vault as it came and never holds them in clear (nor logs, stores or publishes them).
- Connecting by embedded SCA: the agent opens a consent (accounts and transactions only),
  its token goes straight to the vault (`psd2-consent`), the vault re-seals the member's
  credentials for the pinned agent, bound to the consent's authorisation id, and that envelope
  goes to the agent. Only the agent can open it.
- If any step fails, nothing is left behind: the consent is ended at the agent and its token
  deleted from the vault; the member gets the step's problem (wrong credentials:
  `credentials-rejected`; none stored: `credentials-missing`). The teardown is queued before
  the consent is authorised and dropped in the transaction that records the connection, so a
  crash in between is cleaned up by the scheduler too.
- A connection made this way is active at once, its accounts linked, like a redirect callback.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from common.logging import get_logger

from aggregation.domain.connections import Connection, Teardown
from aggregation.domain.errors import TooManyConnections
from aggregation.domain.refs import new_state, state_digest
from aggregation.service import sync, teardown
from aggregation.service.connections import ConnectionView, _link_accounts
from aggregation.service.context import Context, save_connection
from aggregation.service.credential_ports import CredentialVault, EmbeddedAgent, EmbeddedConsent

log = get_logger(__name__)
PURPOSE = "bank-credentials"
T = TypeVar("T")


@dataclass(frozen=True)
class CredentialContext:
    vault: CredentialVault
    agent: EmbeddedAgent


@dataclass(frozen=True)
class SealingKeys:
    """What a client needs to seal: the keys, and the subject and purpose to bind."""

    keys: list[dict[str, str]]
    subject: str
    purpose: str = PURPOSE


async def sealing_keys(creds: CredentialContext, user_id: str) -> SealingKeys:
    return SealingKeys(await creds.vault.public_keys(), user_id)


async def store_credentials(creds: CredentialContext, user_id: str, sealed: str) -> None:
    await creds.vault.store_sealed(user_id, sealed)
    log.info("bank_credentials_stored")


async def delete_credentials(creds: CredentialContext, user_id: str) -> None:
    await creds.vault.delete(user_id)
    log.info("bank_credentials_deleted")


async def connect_embedded(
    ctx: Context, creds: CredentialContext, user_id: str, psu_id: str | None, member_ip: str
) -> ConnectionView:
    """Open a consent at the agent and authorise it with the member's sealed credentials."""
    async with ctx.uow() as uow:
        if await uow.connections.count_open(user_id) >= ctx.policy.max_open_connections:
            raise TooManyConnections(
                f"at most {ctx.policy.max_open_connections} connections may be open at once"
            )
    now = ctx.clock.now()
    consent = await creds.agent.create_embedded_consent(
        psu_id=psu_id or user_id,
        valid_until=now.date() + timedelta(days=ctx.policy.consent_validity_days),
        frequency_per_day=ctx.policy.unattended_per_day,
    )
    fallback = await _store_and_arm(ctx, user_id, consent.token)
    try:
        view = await _authorise_and_record(ctx, creds, user_id, consent, fallback, member_ip)
    except BaseException:
        await _quietly(teardown.settle(ctx, fallback))
        raise
    log.info(
        "connection_embedded",
        connection_id=str(view.connection.connection_id),
        accounts=len(view.accounts),
    )
    return view


async def _store_and_arm(ctx: Context, user_id: str, token: str) -> Teardown:
    """Store the token, then queue the consent's teardown, due after the state's lifetime, so a
    crash before the connection is recorded leaves no valid consent nor token behind."""
    vault_ref: str | None = None
    try:
        vault_ref = await ctx.vault.store(user_id, token)
        due = ctx.clock.now() + ctx.policy.state_ttl
        armed = Teardown(uuid.uuid4(), user_id, vault_ref, True, 0, due)
        async with ctx.uow() as uow:
            await uow.teardowns.add(armed)
            await uow.commit()
        return armed
    except BaseException:
        await _quietly(ctx.agent.delete_consent(token))
        if vault_ref is not None:
            await _quietly(ctx.vault.delete(user_id, vault_ref))
        raise


def first_pull(ctx: Context, connection: Connection, member_ip: str) -> Coroutine[Any, Any, object]:
    """The connection's first pull, with the member present (as after a redirect callback)."""
    return sync.sync_connection(ctx, connection, member_ip=member_ip)


async def _authorise_and_record(
    ctx: Context,
    creds: CredentialContext,
    user_id: str,
    consent: EmbeddedConsent,
    fallback: Teardown,
    member_ip: str,
) -> ConnectionView:
    sealed = await creds.vault.reseal_for_agent(user_id, consent.authorisation_id)
    await creds.agent.authorise_with_credentials(consent.token, sealed)
    info = await ctx.agent.consent(consent.token)
    listed = await ctx.agent.accounts(consent.token, member_ip)
    now = ctx.clock.now()
    connection = Connection.pending(
        connection_id=uuid.uuid4(),
        user_id=user_id,
        state_digest=state_digest(new_state()),
        vault_ref=fallback.vault_ref,
        frequency_per_day=ctx.policy.unattended_per_day,
        now=now,
        state_ttl=ctx.policy.state_ttl,
    )
    valid_until = info.valid_until or now.date() + timedelta(days=ctx.policy.consent_validity_days)
    connection.activate(now, valid_until, info.frequency_per_day or 1)
    async with ctx.uow() as uow:
        await uow.connections.add(connection)
        accounts = await _link_accounts(ctx, uow, connection, listed, now)
        await save_connection(uow, connection)
        await uow.teardowns.delete(fallback.teardown_id)
        await uow.commit()
    return ConnectionView(connection, accounts)


async def _quietly(awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.warning("cleanup_failed", error=type(exc).__name__)
