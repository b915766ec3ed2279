"""Erasure: a member's account deletion request.

Rules: deleting an account publishes ``ErasureRequested`` (every service erases its part), then
auth deletes its own personal data — account, factors, recovery codes, challenges, sessions,
failure and rate counters, the member's *sent* outbox rows (rows not sent yet, these two events
among them, are purged once sent) — in the same transaction and publishes its
``ErasureCompleted`` part with row counts as proof and the time until which events about the
member may stay on the broker; a member with a password must re-enter it.
"""

from __future__ import annotations

import uuid

from common.events.erasure import ErasureCompleted, ErasureRequested, broker_retention_end

from auth.domain.errors import InvalidCredentials, SessionExpired
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.throttle import account_key, in_thread

SERVICE = "auth"


async def delete_account(
    deps: Deps, user_id: uuid.UUID, password: str | None, ctx: RequestContext
) -> str:
    async with deps.uow() as uow:
        account = await uow.accounts.get(user_id)
    if account is None:
        raise SessionExpired()
    if account.password_hash is not None:
        ok = await in_thread(deps.hasher.verify, account.password_hash, password or "")
        if not ok:
            raise InvalidCredentials("the password is wrong")
    request_id = str(uuid.uuid4())
    async with deps.uow() as uow:
        now = deps.clock.now()
        subject = str(user_id)
        uow.record(
            ErasureRequested(user_id=subject, requested_at=now, request_id=request_id),
            subject=subject,
        )
        proof: dict[str, str | int | list[str]] = {
            "sessions": await uow.sessions.delete_for_user(user_id),
            "challenges": await uow.challenges.delete_for_user(user_id),
        }
        await uow.factors.delete_totp(user_id)
        await uow.factors.delete_recovery(user_id)
        await uow.failures.delete(account_key(user_id))
        proof["accounts"] = await uow.accounts.delete(user_id)
        outbox = await uow.erasure.forget(subject, now)
        proof["outbox_sent_deleted"] = outbox.deleted
        completed = deps.clock.now()
        uow.record(
            ErasureCompleted(
                user_id=subject,
                request_id=request_id,
                service=SERVICE,
                completed_at=completed,
                proof=proof,
                events_on_broker_until=broker_retention_end(completed),
                outbox_rows_pending=outbox.pending + 2,
            ),
            subject=subject,
        )
        await uow.commit()
    return request_id
