"""Logout stops payments at once.

Rules: when auth revokes a session (logout, revoke-all, refresh-token reuse, factor change,
erasure), its access tokens are refused here from then on, and every payment created in that
session that has not reached the bank is cancelled (author: auth, with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from payments.domain.payment import BEFORE_BANK, Actor, ActorKind
from payments.service.context import persist_many
from payments.service.ports import Store


@dataclass(frozen=True)
class RevokedSession:
    session_id: str
    user_id: str
    reason: str


async def sessions_revoked(store: Store, revoked: Sequence[RevokedSession], now: datetime) -> int:
    """Revoke the sessions and cancel their unsent payments, set-based (one insert, one locked
    read, one write); the first reason given for a session is the one recorded. A session
    revoked again changes nothing. Returns how many payments were cancelled."""
    await store.sessions.revoke_many([(r.session_id, r.user_id) for r in revoked], now)
    reasons: dict[str, str] = {}
    for r in revoked:
        reasons.setdefault(r.session_id, r.reason)
    cancelled = []
    for payment in await store.payments.of_sessions(list(reasons)):
        if payment.state in BEFORE_BANK and payment.session_id in reasons:
            session_id = payment.session_id
            actor = Actor(ActorKind.AUTH, "auth", session_id=session_id)
            payment.cancel(actor, now, f"session-{reasons[session_id]}"[:64])
            cancelled.append(payment)
    await persist_many(store, cancelled)
    return len(cancelled)


async def session_revoked(
    store: Store, session_id: str, user_id: str, reason: str, now: datetime
) -> int:
    return await sessions_revoked(store, [RevokedSession(session_id, user_id, reason)], now)
