"""Payment consents: granted once at the bank through a redirect, revoked here and there.

Rules: the bank's consent id goes straight to the vault (``psd2-payment-consent``) with the
debtor IBAN and PSU id; only the vault reference stays here. The callback ``state`` is single
use and bound to the member. Revocation ends the consent here at once (no payment may use it
any more), then at the bank, then deletes its vault secret; what fails is retried by the
sweep. Expired consents end the same way.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from common.events.payments import PaymentConsentEnded, PaymentConsentGranted
from common.logging import get_logger

from payments.domain.consent import ENDED, ConsentStatus, PaymentConsent
from payments.domain.errors import (
    BankConsentEnded,
    ConsentNotAuthorised,
    ConsentNotFound,
    InputInvalid,
    SecretMissing,
    StateUnknown,
)
from payments.domain.iban import mask_iban, normalise_iban
from payments.domain.money import parse_amount, parse_currency
from payments.service.context import Context
from payments.service.ports import ConsentRequest, ConsentSecret, Store

log = get_logger(__name__)
FREQUENCIES = frozenset({"day", "week", "month"})


@dataclass(frozen=True)
class ConsentTerms:
    debtor_iban: object
    currency: object
    max_per_payment: object
    periodic_limit: object
    frequency: str
    valid_until: date | None
    psu_id: str | None


@dataclass(frozen=True)
class StartedConsent:
    consent: PaymentConsent
    redirect_url: str


async def start_consent(ctx: Context, user_id: str, terms: ConsentTerms) -> StartedConsent:
    """Ask the bank for a standing payment consent; the member approves it at the bank."""
    now = ctx.clock.now()
    iban = normalise_iban(terms.debtor_iban)
    currency = parse_currency(terms.currency, ctx.policy.currencies)
    per_payment = parse_amount(terms.max_per_payment, currency).amount
    periodic = parse_amount(terms.periodic_limit, currency).amount
    if terms.frequency not in FREQUENCIES:
        raise InputInvalid("frequency must be day, week or month")
    until = _valid_until(terms.valid_until, now, ctx.policy.consent_validity_days)
    state = secrets.token_urlsafe(32)
    consent_id = str(uuid.uuid4())
    psu_id = terms.psu_id or user_id
    created = await ctx.bank.create_consent(
        ConsentRequest(
            psu_id=psu_id, debtor_iban=iban, currency=currency, max_per_payment=per_payment,
            periodic_limit=periodic, frequency=terms.frequency, valid_until=until,
            redirect_uri=_with_state(ctx.policy.callback_url, state),
            nok_redirect_uri=_with_state(ctx.policy.callback_url, state),
        )
    )  # fmt: skip
    ref = f"pc-{consent_id}"
    try:
        await ctx.vault.put_consent(user_id, ref, ConsentSecret(created.token, iban, psu_id))
    except Exception:
        await _forget_at_bank(ctx, created.token, psu_id)
        raise
    consent = PaymentConsent(
        consent_id=consent_id, user_id=user_id, status=ConsentStatus.PENDING,
        account_ref=ctx.refs.account(iban), account_masked=mask_iban(iban), currency=currency,
        max_per_payment=per_payment, periodic_limit=periodic, frequency=terms.frequency,
        valid_until=datetime.combine(until, time.max, tzinfo=UTC),
        state_digest=ctx.refs.state(state), state_expires_at=now + ctx.policy.state_ttl,
        vault_ref=ref, created_at=now, updated_at=now,
    )  # fmt: skip
    async with ctx.uow() as uow:
        await uow.consents.add(consent)
        await uow.commit()
    log.info("payment_consent_started", consent_id=consent_id)
    return StartedConsent(consent, created.sca_redirect)


async def complete_callback(ctx: Context, user_id: str, state: str) -> PaymentConsent:
    """The member is back from the bank with ``state``: ask the bank how it went."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        consent = await uow.consents.by_state(ctx.refs.state(state))
        if consent is None or consent.vault_ref is None:
            raise StateUnknown("no consent waits for this state")
        consent.complete(user_id, now)
        secret = await ctx.vault.get_consent(user_id, consent.vault_ref)
        status = await ctx.bank.consent_status(secret.token, secret.psu_id)
        if status == "received":
            raise ConsentNotAuthorised("the member has not approved the consent at the bank yet")
        if status == "valid":
            consent.activate(now)
            uow.record(_granted(consent, now), subject=user_id, key=consent.consent_id)
        elif status == "rejected":
            consent.reject(now)
            uow.record(_ended(consent, "rejected", now), subject=user_id, key=consent.consent_id)
        else:
            consent.end(ConsentStatus.ENDED, "bank-ended", now, at_bank=True)
            uow.record(_ended(consent, "bank-ended", now), subject=user_id, key=consent.consent_id)
        await uow.consents.save(consent)
        await uow.commit()
    if consent.status is not ConsentStatus.ACTIVE:
        await teardown(ctx, consent.consent_id)
    return consent


async def list_consents(ctx: Context, user_id: str) -> list[PaymentConsent]:
    async with ctx.uow() as uow:
        return await uow.consents.of_user(user_id)


async def get_consent(ctx: Context, user_id: str, consent_id: str) -> PaymentConsent:
    async with ctx.uow() as uow:
        consent = await uow.consents.get(consent_id)
    if consent is None or consent.user_id != user_id:
        raise ConsentNotFound("no such payment consent")
    return consent


async def revoke_consent(ctx: Context, user_id: str, consent_id: str) -> PaymentConsent:
    """End the consent here at once, then at the bank; repeating it changes nothing."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        consent = await uow.consents.get(consent_id, for_update=True)
        if consent is None or consent.user_id != user_id:
            raise ConsentNotFound("no such payment consent")
        if consent.status not in ENDED and consent.status is not ConsentStatus.REJECTED:
            consent.end(ConsentStatus.REVOKED, "revoked", now, at_bank=False)
            await uow.consents.save(consent)
            uow.record(_ended(consent, "revoked", now), subject=user_id, key=consent_id)
            await uow.commit()
    await teardown(ctx, consent_id)
    return consent


async def end_consent(store: Store, consent: PaymentConsent, status: ConsentStatus,
                      reason: str, now: datetime, *, at_bank: bool) -> None:  # fmt: skip
    """End a consent inside the caller's unit of work (expiry, bank refusal, erasure)."""
    consent.end(status, reason, now, at_bank=at_bank)
    await store.consents.save(consent)
    store.record(_ended(consent, reason, now), subject=consent.user_id, key=consent.consent_id)


async def teardown(ctx: Context, consent_id: str) -> bool:
    """Revoke an ended consent at the bank, then delete its vault secret; True when done."""
    async with ctx.uow() as uow:
        consent = await uow.consents.get(consent_id)
    if consent is None or consent.vault_ref is None or consent.status is ConsentStatus.ACTIVE:
        return True
    try:
        if not consent.bank_revoked:
            await _revoke_at_bank(ctx, consent)
        await ctx.vault.delete_consent(consent.user_id, consent.vault_ref)
    except SecretMissing:
        log.warning("payment_consent_secret_gone", consent_id=consent_id)
    except Exception as exc:
        log.warning("payment_consent_teardown_failed", consent_id=consent_id,
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip
        return False
    async with ctx.uow() as uow:
        locked = await uow.consents.get(consent_id, for_update=True)
        if locked is not None:
            locked.bank_revoked, locked.vault_ref = True, None
            await uow.consents.save(locked)
            await uow.commit()
    return True


async def sweep_consents(ctx: Context) -> int:
    """End lapsed consents and finish every teardown still due; returns how many it touched."""
    now = ctx.clock.now()
    async with ctx.uow() as uow:
        due = await uow.consents.due(now, ctx.policy.batch_size)
        for consent in due:
            if consent.status in (ConsentStatus.ACTIVE, ConsentStatus.PENDING):
                at_bank = consent.status is ConsentStatus.ACTIVE
                await end_consent(
                    uow, consent, ConsentStatus.EXPIRED, "expired", now, at_bank=at_bank
                )
        await uow.commit()
    for consent in due:
        await teardown(ctx, consent.consent_id)
    return len(due)


async def _revoke_at_bank(ctx: Context, consent: PaymentConsent) -> None:
    assert consent.vault_ref is not None
    secret = await ctx.vault.get_consent(consent.user_id, consent.vault_ref)
    with contextlib.suppress(BankConsentEnded):
        await ctx.bank.delete_consent(secret.token, secret.psu_id)


async def _forget_at_bank(ctx: Context, token: str, psu_id: str) -> None:
    try:
        await ctx.bank.delete_consent(token, psu_id)
    except Exception as exc:
        log.warning("payment_consent_orphaned_at_bank",
                    error=getattr(exc, "code", type(exc).__name__))  # fmt: skip


def _valid_until(asked: date | None, now: datetime, max_days: int) -> date:
    latest = (now + timedelta(days=max_days)).date()
    if asked is None:
        return latest
    if asked <= now.date() or asked > latest:
        raise InputInvalid(f"valid_until must be within the next {max_days} days")
    return asked


def _with_state(url: str, state: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}state={state}"


def _granted(consent: PaymentConsent, now: datetime) -> PaymentConsentGranted:
    return PaymentConsentGranted(
        consent_id=consent.consent_id, account_ref=consent.account_ref,
        valid_until=consent.valid_until, granted_at=now,
    )  # fmt: skip


def _ended(consent: PaymentConsent, reason: str, now: datetime) -> PaymentConsentEnded:
    return PaymentConsentEnded.model_validate(
        {"consent_id": consent.consent_id, "reason": reason, "ended_at": now}
    )
