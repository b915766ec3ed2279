"""The member's payments: authorise with step-up, cancel, read, list, and who did what.

Rules:
- Authorisation verifies the step-up authorisation against the operation rebuilt from the
  stored payment (kind, amount, currency, payee IBAN from the vault, payment id) and records
  its id in the ledger in the same transaction as the state change: used once, for this
  operation only. Too late (authorisation window passed) expires the payment.
- A payment can be cancelled until it is sent to the bank, never after.
- A member sees only their own payments (another member's is "not found").
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from common.logging import get_logger
from common.security.stepup import Operation

from payments.domain.errors import (
    AuthorisationExpired,
    InputInvalid,
    PaymentNotFound,
    PaymentStateConflict,
)
from payments.domain.payment import BEFORE_BANK, AuditEntry, Payment, State
from payments.service.context import Context, persist
from payments.service.create import Requester
from payments.service.ports import Store

log = get_logger(__name__)
MAX_PAGE = 100


@dataclass(frozen=True)
class Page:
    payments: list[Payment]
    next_cursor: str | None


async def authorise_payment(ctx: Context, who: Requester, payment_id: str, token: str) -> Payment:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        payment = await _mine(uow, who.user_id, payment_id, for_update=True)
        if payment.state is State.AWAITING_AUTHORISATION and now >= payment.authorise_by:
            payment.expire(now)
            await persist(uow, payment)
            await uow.commit()
            raise AuthorisationExpired("the payment was not authorised in time; create it again")
        if payment.state is not State.AWAITING_AUTHORISATION:
            raise PaymentStateConflict(
                f"a payment that is {payment.state.value} cannot be authorised",
                state=payment.state.value,
            )
        payee = await ctx.vault.get_payee(who.user_id, payment_id)
        operation = Operation(
            payment.kind.value, payment.money.text(), payment.money.currency, payee, payment_id
        )
        granted = await ctx.stepup.verify_and_consume(
            token, operation, subject=who.user_id, ledger=uow.ledger
        )
        payment.authorise(who.actor(), granted.authorisation_id, now)
        payment.next_check_at = now + ctx.policy.fraud_wait
        await persist(uow, payment)
        await uow.commit()
    log.info("payment_authorised", payment_id=payment_id)
    return payment


async def cancel_payment(ctx: Context, who: Requester, payment_id: str) -> Payment:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        payment = await _mine(uow, who.user_id, payment_id, for_update=True)
        payment.cancel(who.actor(), now, "member-cancelled")
        await persist(uow, payment)
        await uow.commit()
    await forget_payee(ctx, payment)
    return payment


async def get_payment(ctx: Context, user_id: str, payment_id: str) -> Payment:
    async with ctx.uow() as uow:
        return await _mine(uow, user_id, payment_id)


async def payment_audit(ctx: Context, user_id: str, payment_id: str) -> list[AuditEntry]:
    async with ctx.uow() as uow:
        await _mine(uow, user_id, payment_id)
        return await uow.audit.of_payment(payment_id)


async def list_payments(ctx: Context, user_id: str, cursor: str | None, limit: int) -> Page:
    before = _decode(cursor) if cursor else None
    async with ctx.uow() as uow:
        found = await uow.payments.of_user(user_id, before, limit + 1)
    more = len(found) > limit
    found = found[:limit]
    last = found[-1] if more and found else None
    return Page(found, _encode(last.created_at, last.payment_id) if last else None)


async def forget_payee(ctx: Context, payment: Payment) -> None:
    """Delete the payee IBAN from the vault once the payment can no longer reach the bank."""
    if payment.state in BEFORE_BANK or payment.state is State.SUBMITTING:
        return
    try:
        await ctx.vault.delete_payee(payment.user_id, payment.payment_id)
    except Exception as exc:
        log.warning("payment_payee_not_deleted", payment_id=payment.payment_id,
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip


async def _mine(
    store: Store, user_id: str, payment_id: str, *, for_update: bool = False
) -> Payment:
    payment = await store.payments.get(payment_id, for_update=for_update)
    if payment is None or payment.user_id != user_id:
        raise PaymentNotFound("no such payment")
    return payment


def _encode(at: datetime, payment_id: str) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{payment_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        at, payment_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
        return datetime.fromisoformat(at), payment_id
    except (ValueError, binascii.Error, UnicodeError):
        raise InputInvalid("cursor is not valid") from None
