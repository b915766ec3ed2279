"""A member's erasure: revoke their consents, delete the tokens, delete everything we hold.

Rules: it runs inside the consumer's unit of work (with the inbox claim), so a redelivered
request changes nothing. It first locks the member's feed, so no pull in flight can write after
it. Each consent still held is ended at the agent and its token deleted from the vault now;
what cannot be done now (agent or vault down) is queued as a teardown and retried — the local
data is deleted regardless. The member's *sent* outbox rows (their transactions as published)
are deleted now, unsent ones once the relay sent them (``common.db.erasure``); the member is
then known only by a digest. The `ErasureCompleted` part names counts, never data: a consent
ended at the agent counts as revoked, a token removed from the vault as deleted (both, for a
live consent), and it states until when events published before it may stay on the broker.
"""

from __future__ import annotations

import uuid
from collections import Counter

from common.events.erasure import ErasureCompleted, broker_retention_end
from common.logging import get_logger

from aggregation.domain.connections import ConnectionStatus, Teardown
from aggregation.service import teardown
from aggregation.service.context import Context
from aggregation.service.ports import Store

log = get_logger(__name__)
SERVICE = "aggregation"


async def erase_member(ctx: Context, store: Store, user_id: str, request_id: str) -> None:
    now = ctx.clock.now()
    await store.transactions.lock_feed(user_id)
    outcomes: Counter[teardown.Outcome] = Counter()
    for connection in await store.connections.of_user(user_id):
        if connection.vault_ref is None:
            continue
        live = connection.status in (ConnectionStatus.ACTIVE, ConnectionStatus.PENDING)
        item = Teardown(uuid.uuid4(), user_id, connection.vault_ref, live, 0, now)
        outcome = await teardown.perform(ctx, item)
        outcomes[outcome] += 1
        if outcome is teardown.Outcome.DEFERRED:
            await store.teardowns.add(item)
    refs = [account.account_ref for account in await store.accounts.of_user(user_id)]
    transactions = await store.transactions.delete_of_user(user_id)
    await store.pulls.delete_of_user(user_id)
    accounts = await store.accounts.delete_of_user(user_id)
    connections = await store.connections.delete_of_user(user_id)
    outbox = await store.erasure.forget(user_id, refs, now)
    proof: dict[str, str | int | list[str]] = {
        "connections_deleted": connections,
        "accounts_deleted": accounts,
        "transactions_deleted": transactions,
        "consents_revoked": outcomes[teardown.Outcome.TERMINATED],
        "consent_tokens_deleted": (
            outcomes[teardown.Outcome.TERMINATED] + outcomes[teardown.Outcome.DELETED]
        ),
        "consent_tokens_already_gone": outcomes[teardown.Outcome.TOKEN_GONE],
        "consent_teardowns_queued": outcomes[teardown.Outcome.DEFERRED],
        "outbox_sent_deleted": outbox.deleted,
        "outbox_pending": outbox.pending,
    }
    store.record(
        ErasureCompleted(
            user_id=user_id,
            request_id=request_id,
            service=SERVICE,
            completed_at=now,
            proof=proof,
            events_on_broker_until=broker_retention_end(now),
            outbox_rows_pending=outbox.pending + 1,
        ),
        subject=user_id,
    )
    log.info("member_erased", request_id=request_id, **proof)
