"""Pulling transactions: member refreshes, unattended pulls, and applying what a read returned.

Rules:
- A member refresh is attended (the member's IP goes to the agent, which does not count it) and
  allowed once per `member_refresh_interval` per connection; it also picks up new accounts.
- An unattended pull takes a slot of the account's daily budget before calling the agent, and
  is skipped (rescheduled) when none is left — so we never exceed the consent's frequency.
- Each account reads from its own cursor; the whole read is applied in one transaction that
  serialises on the member's feed, so concurrent pulls never duplicate a transaction or an
  event. New transactions publish `TransactionIngested`, changed ones `TransactionUpdated`,
  keyed by account.
- A consent the bank refuses ends the connection; agent failures reschedule the account with
  backoff (a bank's Retry-After is honoured); nothing read is applied partially.
- A first pull is never lost to a crash: a new account is due `first_pull_lease` after it is
  linked (its first complete read pushes that to the normal schedule), and a process that starts
  resumes at once every first pull that never completed (`resume_first_pulls`), unattended. If
  another replica is still running that pull, the feed lock and de-duplication make the second
  read harmless (no duplicate transaction or event).
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from common.logging import get_logger

from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.connections import Connection
from aggregation.domain.errors import (
    AgentRateLimited,
    AgentRefused,
    AgentUnavailable,
    ConsentEnded,
    ConsentSecretMissing,
    RefreshTooSoon,
    VaultUnavailable,
)
from aggregation.domain.limits import (
    WINDOW,
    next_unattended_slot,
    retry_delay,
    unattended_allowed,
)
from aggregation.domain.transactions import (
    Changes,
)
from aggregation.service import ingest, teardown
from aggregation.service.connections import owned
from aggregation.service.context import Context, save_connection

log = get_logger(__name__)
AGENT_FAILURES = (AgentUnavailable, AgentRateLimited, AgentRefused)


@dataclass
class SyncReport:
    accounts: int = 0
    added: int = 0
    modified: int = 0
    removed: int = 0
    skipped: int = 0
    failed: int = 0

    def count(self, changes: Changes) -> None:
        self.accounts += 1
        self.added += len(changes.added)
        self.modified += len(changes.modified)
        self.removed += len(changes.removed)

    def merge(self, other: SyncReport) -> None:
        for name in ("accounts", "added", "modified", "removed", "skipped", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def refresh_connection(
    ctx: Context, user_id: str, connection_id: uuid.UUID, member_ip: str
) -> SyncReport:
    """A refresh the member asked for (attended)."""
    async with ctx.uow() as uow:
        connection = await owned(uow, user_id, connection_id, for_update=True)
        connection.ensure_active()
        now = ctx.clock.now()
        last = connection.last_member_refresh_at
        interval = ctx.policy.member_refresh_interval
        if interval and last is not None and now - last < interval:
            wait = max(1, math.ceil((last + interval - now).total_seconds()))
            raise RefreshTooSoon("try again in a moment", retry_after=wait)
        connection.last_member_refresh_at = now
        await uow.connections.save(connection)
        await uow.commit()
    return await sync_connection(ctx, connection, member_ip=member_ip)


async def sync_connection(
    ctx: Context,
    connection: Connection,
    *,
    member_ip: str | None,
    only: Sequence[LinkedAccount] | None = None,
) -> SyncReport:
    """Pull the connection's accounts (`only` these, for unattended pulls)."""
    report = SyncReport()
    attended = member_ip is not None
    try:
        assert connection.vault_ref is not None
        token = await ctx.vault.read(connection.user_id, connection.vault_ref)
        if attended:
            accounts = await _refresh_accounts(ctx, connection, token, member_ip)
        else:
            accounts = list(only or [])
        for account in accounts:
            await _sync_account(
                ctx, token, account, connection.frequency_per_day, member_ip, report
            )
    except ConsentEnded as exc:
        await _end_connection(ctx, connection.connection_id, exc.reason)
        raise
    except ConsentSecretMissing:
        await _end_connection(ctx, connection.connection_id, "token-missing")
        raise
    return report


async def _refresh_accounts(
    ctx: Context, connection: Connection, token: str, member_ip: str | None
) -> list[LinkedAccount]:
    listed = await ctx.agent.accounts(token, member_ip)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        for bank_account in listed:
            ref = ctx.refs.account_ref(connection.user_id, bank_account.resource_id)
            account = LinkedAccount(
                ref, connection.user_id, connection.connection_id,
                bank_account.resource_id, bank_account.currency,
                now + ctx.policy.first_pull_lease,
            )  # fmt: skip
            await uow.accounts.upsert(account)
        accounts = await uow.accounts.of_connection(connection.connection_id)
        await uow.commit()
    return accounts


async def _sync_account(
    ctx: Context,
    token: str,
    account: LinkedAccount,
    per_day: int,
    member_ip: str | None,
    report: SyncReport,
) -> None:
    now = ctx.clock.now()
    if member_ip is None and not await _take_unattended_slot(ctx, account.account_ref, per_day):
        report.skipped += 1
        return
    policy = ctx.policy
    since = account.read_from(
        now.date(), overlap_days=policy.overlap_days, history_days=policy.history_days
    )
    try:
        items = await ctx.agent.transactions(token, account.resource_id, since, member_ip)
    except AGENT_FAILURES as exc:
        report.failed += 1
        await _account_failed(ctx, account.account_ref, exc)
        if member_ip is not None:
            raise
        return
    minimal = [ingest.minimise(ctx, account.account_ref, item) for item in items]
    changes = await ingest.apply_read(ctx, account.account_ref, minimal, since, per_day)
    report.count(changes)


async def _take_unattended_slot(ctx: Context, account_ref: str, per_day: int) -> bool:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        account = await uow.accounts.get(account_ref, for_update=True)
        if account is None:
            return False
        recent = await uow.pulls.recent_unattended(account_ref, now - WINDOW)
        if not unattended_allowed(recent, now, per_day):
            account.next_sync_at = next_unattended_slot(recent, now, per_day)
            await uow.accounts.save(account)
            await uow.commit()
            log.info("unattended_pull_skipped", account_ref=account_ref, reason="daily-limit")
            return False
        await uow.pulls.add(account_ref, account.user_id, now, attended=False)
        await uow.commit()
    return True


async def _account_failed(ctx: Context, account_ref: str, exc: Exception) -> None:
    now = ctx.clock.now()
    retry_after = None
    if isinstance(exc, AgentRateLimited):
        retry_after = timedelta(seconds=exc.retry_after)
    async with ctx.uow() as uow:
        account = await uow.accounts.get(account_ref, for_update=True)
        if account is None:
            return
        delay = retry_delay(
            account.failures + 1, ctx.policy.retry_base, ctx.policy.retry_cap, retry_after
        )
        account.failed(now + delay)
        await uow.accounts.save(account)
        await uow.commit()
    code = getattr(exc, "code", type(exc).__name__)
    log.warning("account_sync_failed", account_ref=account_ref, error=code, retry_in=str(delay))


async def _end_connection(ctx: Context, connection_id: uuid.UUID, reason: str) -> None:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        connection = await uow.connections.get(connection_id, for_update=True)
        if connection is None or connection.has_ended:
            return
        if reason == "expired":
            connection.expire(now)
        else:
            connection.end_at_bank(now, reason)
        queued = list(connection.teardowns)
        await save_connection(uow, connection)
        await uow.commit()
    log.warning("connection_ended_at_bank", connection_id=str(connection_id), reason=reason)
    for item in queued:
        await teardown.settle(ctx, item)


async def resume_first_pulls(ctx: Context) -> SyncReport:
    """At start: pull every account whose first pull never completed (a crash cut it short)."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        unsynced = await uow.accounts.claim_never_synced(
            ctx.policy.batch_size, now + ctx.policy.claim_lease
        )
        await uow.commit()
    report = await _pull_groups(ctx, unsynced)
    if report.accounts or report.failed:
        log.info("first_pulls_resumed", accounts=report.accounts, added=report.added)
    return report


async def run_due_syncs(ctx: Context) -> SyncReport:
    """The scheduler's pass: claim due accounts (of active connections) and pull them."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.accounts.claim_due(now, ctx.policy.batch_size, now + ctx.policy.claim_lease)
        await uow.commit()
    return await _pull_groups(ctx, due)


async def _pull_groups(ctx: Context, due: Sequence[LinkedAccount]) -> SyncReport:
    groups: dict[uuid.UUID, list[LinkedAccount]] = defaultdict(list)
    for account in due:
        groups[account.connection_id].append(account)
    report = SyncReport()
    for connection_id, accounts in groups.items():
        report.merge(await _unattended(ctx, connection_id, accounts))
    return report


async def _unattended(
    ctx: Context, connection_id: uuid.UUID, accounts: list[LinkedAccount]
) -> SyncReport:
    async with ctx.uow() as uow:
        connection = await uow.connections.get(connection_id)
    if connection is None or not connection.is_active:
        return SyncReport()
    try:
        return await sync_connection(ctx, connection, member_ip=None, only=accounts)
    except (ConsentEnded, ConsentSecretMissing):
        return SyncReport(failed=len(accounts))
    except VaultUnavailable as exc:
        for account in accounts:
            await _account_failed(ctx, account.account_ref, exc)
        return SyncReport(failed=len(accounts))
