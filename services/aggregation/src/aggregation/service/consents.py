"""Consent validity: warn members ahead of expiry, end what lapsed or was never completed.

Rules: an active consent publishes `ConsentExpiring` once, `expiry_warning_days` before its
last valid day; the day after that day the connection is `expired` and its token deleted.
A pending connection whose callback did not come within the state's lifetime is abandoned,
and its consent ended at the agent.
"""

from __future__ import annotations

from datetime import timedelta

from common.events.aggregation import ConsentExpiring
from common.logging import get_logger

from aggregation.domain.connections import Teardown, consent_lapsed, expiry_warning_due
from aggregation.service import teardown
from aggregation.service.context import Context, save_connection

log = get_logger(__name__)


async def check_expiry(ctx: Context) -> tuple[int, int]:
    """Warn about consents expiring soon and expire lapsed ones; returns (warned, expired)."""
    now = ctx.clock.now()
    today = now.date()
    warned = 0
    queued: list[Teardown] = []
    async with ctx.uow() as uow:
        horizon = today + timedelta(days=ctx.policy.expiry_warning_days)
        for connection in await uow.connections.expiring(today, horizon):
            valid_until = connection.consent_valid_until
            assert valid_until is not None
            if consent_lapsed(valid_until, today):
                connection.expire(now)
                queued += connection.teardowns
            elif connection.expiry_warned_at is None and expiry_warning_due(
                valid_until, today, ctx.policy.expiry_warning_days
            ):
                connection.expiry_warned_at = now
                uow.record(
                    ConsentExpiring(
                        user_id=connection.user_id,
                        connection_id=str(connection.connection_id),
                        expires_on=valid_until,
                        days_left=(valid_until - today).days,
                    ),
                    subject=connection.user_id,
                )
                warned += 1
            else:
                continue
            await save_connection(uow, connection)
        await uow.commit()
    for item in queued:
        await teardown.settle(ctx, item)
    if warned or queued:
        log.info("consents_checked", warned=warned, expired=len(queued))
    return warned, len(queued)


async def abandon_stale(ctx: Context) -> int:
    """End pending connections whose callback never came."""
    now = ctx.clock.now()
    queued: list[Teardown] = []
    async with ctx.uow() as uow:
        for connection in await uow.connections.stale_pending(now):
            connection.abandon(now)
            queued += connection.teardowns
            await save_connection(uow, connection)
        await uow.commit()
    for item in queued:
        await teardown.settle(ctx, item)
    return len(queued)
