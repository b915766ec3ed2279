"""Sending cleared payments to the bank, and following them until the bank settles them.

Rules:
- A payment is marked ``submitting`` (committed) before the bank is called, with a lease. Every
  call for it carries the same ``X-Request-ID`` (derived from the payment id), and the bank
  answers a repeated request id with the payment it already has: a payment is never made
  twice, even when the process dies between the bank's answer and our commit.
- An unknown outcome (timeout, 5xx, garbage) leaves the payment ``submitting``; when the
  lease runs out the same request is sent again to learn the bank's payment id, then its
  status is polled. Never a new request id, never a blind second payment.
- ``submitted`` payments are polled with growing intervals: ACSC → executed, RJCT → rejected
  with the bank's reason, RCVD/ACTC → look again later (a payment stuck in ACTC stays
  submitted and keeps being polled; it is never resubmitted).
- A refusal that says the consent is no longer valid ends the consent here too.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.logging import get_logger

from payments.domain.consent import ConsentStatus
from payments.domain.errors import BankConsentEnded, BankRefused
from payments.domain.payment import Payment, State
from payments.service.consents import end_consent
from payments.service.context import Context, for_each, persist
from payments.service.payments import forget_payee
from payments.service.ports import BankStatus, ConsentSecret, PaymentOrder

log = get_logger(__name__)


async def submit_cleared(ctx: Context) -> int:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.payments.claim(State.CLEARED, now, ctx.policy.batch_size)
        for payment in due:
            payment.start_submission(now)
            payment.next_check_at = now + ctx.policy.submit_lease
            await persist(uow, payment)
        await uow.commit()
    await for_each(ctx, due, lambda payment: _send(ctx, payment))
    return len(due)


async def resolve_submitting(ctx: Context) -> int:
    """Payments whose submission outcome is unknown: ask again with the same request id."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.payments.claim(State.SUBMITTING, now, ctx.policy.batch_size)
        for payment in due:
            payment.next_check_at = now + ctx.policy.submit_lease
            payment.checks += 1
            await uow.payments.save(payment)
        await uow.commit()
    await for_each(ctx, due, lambda payment: _send(ctx, payment))
    return len(due)


async def poll_submitted(ctx: Context) -> int:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.payments.claim(State.SUBMITTED, now, ctx.policy.batch_size)
        for payment in due:
            payment.next_check_at = now + _backoff(ctx, payment.checks)
            await uow.payments.save(payment)
        await uow.commit()
    await for_each(ctx, due, lambda payment: _poll(ctx, payment))
    return len(due)


async def _send(ctx: Context, payment: Payment) -> None:
    try:
        secret = await _secret(ctx, payment)
        payee = await ctx.vault.get_payee(payment.user_id, payment.payment_id)
        answer = await ctx.bank.submit(_order(payment, secret, payee))
    except BankConsentEnded as exc:
        await _apply(
            ctx, payment.payment_id, State.SUBMITTING, rejected=exc.bank_code, consent=True
        )
    except BankRefused as exc:
        await _apply(ctx, payment.payment_id, State.SUBMITTING, rejected=exc.bank_code)
    except Exception as exc:
        log.warning("payment_submission_unknown", payment_id=payment.payment_id,
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip
    else:
        await _apply(ctx, payment.payment_id, State.SUBMITTING, answer=answer)


async def _poll(ctx: Context, payment: Payment) -> None:
    assert payment.bank_payment_id is not None
    try:
        secret = await _secret(ctx, payment)
        answer = await ctx.bank.status(secret.token, secret.psu_id, payment.bank_payment_id)
    except BankConsentEnded as exc:
        await _apply(ctx, payment.payment_id, State.SUBMITTED, rejected=exc.bank_code, consent=True)
    except Exception as exc:
        log.warning("payment_status_unknown", payment_id=payment.payment_id,
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip
    else:
        await _apply(ctx, payment.payment_id, State.SUBMITTED, answer=answer)


async def _apply(
    ctx: Context,
    payment_id: str,
    expected: State,
    *,
    answer: BankStatus | None = None,
    rejected: str | None = None,
    consent: bool = False,
) -> None:
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        payment = await uow.payments.get(payment_id, for_update=True)
        if payment is None or payment.state is not expected:
            return
        if rejected is not None:
            _reject(payment, rejected, expected, now)
            if consent:
                found = await uow.consents.get(payment.consent_id, for_update=True)
                if found is not None and found.status is ConsentStatus.ACTIVE:
                    await end_consent(
                        uow, found, ConsentStatus.ENDED, "bank-ended", now, at_bank=True
                    )
        elif answer is not None:
            _settle(ctx, payment, answer, now)
        await persist(uow, payment)
        await uow.commit()
    if payment.is_terminal:
        log.info("payment_settled", payment_id=payment_id, state=payment.state.value)
        await forget_payee(ctx, payment)


def _settle(ctx: Context, payment: Payment, answer: BankStatus, now: datetime) -> None:
    if payment.state is State.SUBMITTING:
        bank_id = answer.bank_payment_id or payment.bank_payment_id or ""
        payment.submitted(bank_id, answer.status, now, now + ctx.policy.poll_base)
    if answer.status == "ACSC":
        payment.executed(now)
    elif answer.status == "RJCT":
        payment.bank_rejected(answer.code, now)
    else:
        payment.still_pending(answer.status, now + _backoff(ctx, payment.checks))


def _reject(payment: Payment, code: str, expected: State, now: datetime) -> None:
    payment.bank_rejected(code or "REFUSED", now)


async def _secret(ctx: Context, payment: Payment) -> ConsentSecret:
    async with ctx.uow() as uow:
        consent = await uow.consents.get(payment.consent_id)
    if consent is None or consent.vault_ref is None:
        raise BankConsentEnded("the payment consent is gone", bank_code="CONSENT_INVALID")
    return await ctx.vault.get_consent(payment.user_id, consent.vault_ref)


def _order(payment: Payment, secret: ConsentSecret, payee: str) -> PaymentOrder:
    return PaymentOrder(
        request_id=payment.bank_request_id,
        token=secret.token,
        psu_id=secret.psu_id,
        debtor_iban=secret.debtor_iban,
        amount=payment.money.text(),
        currency=payment.money.currency,
        creditor_name=payment.payee_name,
        creditor_iban=payee,
        remittance=payment.remittance,
    )


def _backoff(ctx: Context, checks: int) -> timedelta:
    policy = ctx.policy
    delay: timedelta = policy.poll_base * (2 ** min(checks, 16))
    return min(policy.poll_cap, delay)
