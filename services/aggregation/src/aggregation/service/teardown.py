"""Tearing down an ended consent: end it at the agent when we ended it, then delete the token.

Rules: a teardown is queued in the same transaction that ends the connection, tried at once,
and retried with capped backoff until it succeeds; a consent the agent no longer knows, and a
token the vault no longer holds, count as torn down. An agent that refuses outright (4xx) will
never accept it, so the token is deleted anyway and the consent lapses at the bank.
"""

from __future__ import annotations

from dataclasses import replace
from enum import StrEnum

from common.logging import get_logger

from aggregation.domain.connections import Teardown
from aggregation.domain.errors import (
    AgentRateLimited,
    AgentRefused,
    AgentUnavailable,
    ConsentEnded,
    ConsentSecretMissing,
    VaultUnavailable,
)
from aggregation.domain.limits import retry_delay
from aggregation.service.context import Context

log = get_logger(__name__)
TRANSIENT = (AgentUnavailable, AgentRateLimited, VaultUnavailable)


class Outcome(StrEnum):
    TERMINATED = "terminated"
    DELETED = "deleted"
    TOKEN_GONE = "token-gone"
    DEFERRED = "deferred"


async def perform(ctx: Context, teardown: Teardown) -> Outcome:
    """Do the teardown's remote work; `DEFERRED` when it must be retried later."""
    try:
        outcome = Outcome.DELETED
        if teardown.terminate_at_agent:
            outcome = await _terminate_at_agent(ctx, teardown)
        try:
            await ctx.vault.delete(teardown.user_id, teardown.vault_ref)
        except ConsentSecretMissing:
            outcome = Outcome.TOKEN_GONE if outcome is Outcome.DELETED else outcome
    except TRANSIENT as exc:
        log.warning("teardown_deferred", teardown_id=str(teardown.teardown_id), error=exc.code)
        return Outcome.DEFERRED
    log.info("consent_torn_down", teardown_id=str(teardown.teardown_id), outcome=outcome.value)
    return outcome


async def _terminate_at_agent(ctx: Context, teardown: Teardown) -> Outcome:
    try:
        token = await ctx.vault.read(teardown.user_id, teardown.vault_ref)
    except ConsentSecretMissing:
        return Outcome.TOKEN_GONE
    try:
        await ctx.agent.delete_consent(token)
    except ConsentEnded:
        pass
    except AgentRefused:
        log.warning("consent_termination_refused", teardown_id=str(teardown.teardown_id))
        return Outcome.DELETED
    return Outcome.TERMINATED


async def settle(ctx: Context, teardown: Teardown) -> bool:
    """Perform a queued teardown and record the outcome (row deleted, or retry scheduled)."""
    done = await perform(ctx, teardown) is not Outcome.DEFERRED
    async with ctx.uow() as uow:
        if done:
            await uow.teardowns.delete(teardown.teardown_id)
        else:
            attempts = teardown.attempts + 1
            delay = retry_delay(attempts, ctx.policy.retry_base, ctx.policy.retry_cap)
            later = replace(teardown, attempts=attempts, next_attempt_at=ctx.clock.now() + delay)
            await uow.teardowns.save(later)
        await uow.commit()
    return done


async def run_teardowns(ctx: Context) -> int:
    """Settle the teardowns that are due; returns how many completed."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.teardowns.claim_due(
            now, ctx.policy.batch_size, now + ctx.policy.claim_lease
        )
        await uow.commit()
    return sum([await settle(ctx, teardown) for teardown in due])
