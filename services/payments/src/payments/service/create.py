"""Creating a payment, with Stripe's idempotency-key semantics.

Rules:
- A key is the member's (keys of two members never meet), kept ``idempotency_ttl`` (≥ 24 h).
- The same key with the same body returns the first answer again, success or refusal, marked
  as a replay; with another body it is ``payments.idempotency-key-reused`` (422); while the
  first request still runs it is ``payments.idempotency-in-progress`` (409).
- A request refused by validation before any work (bad amount, IBAN, currency…) does not
  use up the key. The payment id is fixed when the key is first claimed, so a request retried
  after a crash finishes the same payment: a key never makes two payments.
- Limits are checked under a per-member lock: the per-payment maximum and the daily total of
  payments not rejected, cancelled or expired.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from common.errors import CoffreError

from payments.domain.errors import (
    IdempotencyInProgress,
    IdempotencyKeyMissing,
    IdempotencyKeyReused,
    LimitExceeded,
)
from payments.domain.payment import Actor, ActorKind, Payment
from payments.service.context import Context, persist
from payments.service.drafts import Draft, PaymentInput, draft_payment
from payments.service.ports import IdempotencyRecord, Store
from payments.service.views import operation_view, payment_view

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Requester:
    user_id: str
    session_id: str | None
    device_id: str | None

    def actor(self) -> Actor:
        return Actor(ActorKind.MEMBER, self.user_id, self.session_id, self.device_id)


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    replayed: bool


async def create_payment(
    ctx: Context, who: Requester, key: str | None, body: dict[str, Any], given: PaymentInput
) -> Answer:
    key = _check_key(key)
    draft = await draft_payment(ctx, who.user_id, given)
    fingerprint = ctx.refs.fingerprint(body)
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        record, fresh = await uow.idempotency.claim(
            IdempotencyRecord(
                who.user_id, key, fingerprint, str(uuid.uuid4()), now,
                now + ctx.policy.idempotency_lock, None, None,
            )
        )  # fmt: skip
        if not fresh:
            answer = _existing(record, fingerprint, draft, now)
            if answer is not None:
                return answer
            await uow.idempotency.take_over(who.user_id, key, now + ctx.policy.idempotency_lock)
        await uow.commit()
    await ctx.vault.put_payee(who.user_id, record.payment_id, draft.payee_iban)
    return await _create(ctx, who, key, record.payment_id, draft)


async def _create(ctx: Context, who: Requester, key: str, payment_id: str, d: Draft) -> Answer:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        try:
            await _check_limits(ctx, uow, who.user_id, d, now)
            payment = Payment.create(
                actor=who.actor(), now=now, authorisation_window=ctx.policy.authorisation_window,
                payment_id=payment_id, user_id=who.user_id, kind=d.kind,
                consent_id=d.consent_id, account_ref=d.account_ref, money=d.money,
                payee_ref=d.payee_ref, payee_name=d.payee_name, payee_masked=d.payee_masked,
                remittance=d.remittance,
            )  # fmt: skip
            await persist(uow, payment, new=True)
            stored = payment_view(payment) | {"operation": operation_view(payment, None)}
            status = 201
        except CoffreError as err:
            if err.status >= 500:
                raise
            stored, status = {"error": _error_body(err)}, err.status
        await uow.idempotency.finish(who.user_id, key, status, stored)
        await uow.commit()
    return Answer(status, _with_payee(stored, d), replayed=False)


def _existing(
    record: IdempotencyRecord, fingerprint: str, draft: Draft, now: datetime
) -> Answer | None:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused("this key was used with another request body")
    if record.response_status is not None and record.response_body is not None:
        return Answer(record.response_status, _with_payee(record.response_body, draft), True)
    if record.locked_until is not None and record.locked_until > now:
        raise IdempotencyInProgress("the first request with this key is still running")
    return None


async def _check_limits(ctx: Context, store: Store, user_id: str, d: Draft, now: datetime) -> None:
    await store.lock_member(user_id)
    consent = await store.consents.get(d.consent_id)
    assert consent is not None
    consent.usable(now)
    if d.money.amount > consent.max_per_payment:
        raise LimitExceeded("the amount exceeds the consent's maximum per payment", limit="consent")
    day_start = datetime.combine(now.date(), time.min, tzinfo=now.tzinfo)
    spent = await store.payments.spent_since(user_id, day_start, d.money.currency)
    if spent + d.money.amount > ctx.policy.max_per_day:
        raise LimitExceeded("the amount exceeds the daily limit", limit="daily")


def _with_payee(stored: dict[str, Any], d: Draft) -> dict[str, Any]:
    if "operation" not in stored:
        return stored
    return stored | {"operation": stored["operation"] | {"payee": d.payee_iban}}


def _error_body(err: CoffreError) -> dict[str, Any]:
    ext = {k: v for k, v in err.extensions.items() if isinstance(v, str | int | float | bool)}
    return {"status": err.status, "code": err.code, "title": err.title, "detail": err.message} | ext


def _check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyMissing("send an Idempotency-Key header (e.g. a UUID)")
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyMissing(
            "the Idempotency-Key must be up to 255 printable ASCII characters"
        )
    return key
