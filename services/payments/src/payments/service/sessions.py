"""Logout stops payments at once.

Rules: when auth revokes a session (logout, revoke-all, refresh-token reuse, factor change,
erasure), its access tokens are refused here from then on, and every payment created in that
session that has not reached the bank is cancelled (author: auth, with the reason).
"""

from __future__ import annotations

from datetime import datetime

from payments.domain.payment import BEFORE_BANK, Actor, ActorKind
from payments.service.context import persist
from payments.service.ports import Store


async def session_revoked(
    store: Store, session_id: str, user_id: str, reason: str, now: datetime
) -> int:
    await store.sessions.revoke(session_id, user_id, now)
    cancelled = 0
    for payment in await store.payments.of_session(session_id):
        if payment.state in BEFORE_BANK:
            actor = Actor(ActorKind.AUTH, "auth", session_id=session_id)
            payment.cancel(actor, now, f"session-{reason}"[:64])
            await persist(store, payment)
            cancelled += 1
    return cancelled
