"""Enrolling and removing second factors: TOTP apps, SMS phone numbers, recovery codes.

Rules: a TOTP secret counts only once confirmed with a first valid code, and is shown only
while enrolment is pending; a phone counts only once a code sent to it is entered; the first
confirmed factor comes with ten recovery codes, shown once; wrong codes count towards lockout;
once a factor is enrolled, adding or replacing one, removing one or getting new recovery codes
needs a current TOTP code or a recovery code (a stolen session alone cannot redirect codes to
another phone or app); removing a factor revokes the other sessions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from common.events.auth import FactorEnrolled, FactorRemoved

from auth.domain.accounts import Account, normalise_phone
from auth.domain.challenges import Challenge, Method, Purpose
from auth.domain.codes import new_sms_code
from auth.domain.errors import (
    ChallengeNotFound,
    FactorAlreadyEnrolled,
    FactorNotEnrolled,
    InvalidCode,
    SessionExpired,
)
from auth.domain.recovery import RecoveryCodes
from auth.domain.totp import TotpFactor, new_secret, qr_png
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.factor_checks import (
    check_code,
    record_failure,
    require_proof,
    unlocked_counter,
)
from auth.service.ports import AuthUnitOfWork
from auth.service.sessions import revoke_all_in
from auth.service.throttle import limit


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    otpauth_uri: str
    qr_png: bytes


async def _account(uow: AuthUnitOfWork, user_id: uuid.UUID) -> Account:
    account = await uow.accounts.get(user_id)
    if account is None:
        raise SessionExpired()
    return account


def _enrolled(uow: AuthUnitOfWork, account: Account, factor: str, ctx: RequestContext) -> None:
    uow.record(
        FactorEnrolled(user_id=account.id, factor=factor, **ctx.acting(account.id).audit()),
        subject=str(account.id),
    )


async def _first_recovery_codes(
    deps: Deps, uow: AuthUnitOfWork, account: Account, ctx: RequestContext
) -> list[str]:
    if await uow.factors.get_recovery(account.id) is not None:
        return []
    codes, shown = RecoveryCodes.issue(account.id, deps.pepper)
    await uow.factors.save_recovery(codes)
    _enrolled(uow, account, "recovery-codes", ctx)
    return shown


async def start_totp(
    deps: Deps, user_id: uuid.UUID, ctx: RequestContext, proof: str | None = None
) -> TotpEnrolment:
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        account = await _account(uow, user_id)
        existing = await uow.factors.get_totp(user_id)
        if existing is not None and existing.confirmed:
            raise FactorAlreadyEnrolled()
        if account.has_second_factor:
            await require_proof(deps, uow, account, proof, ctx, deps.clock.now())
        factor = TotpFactor(user_id, new_secret(), deps.clock.now())
        await uow.factors.save_totp(factor)
        await uow.commit()
    uri = factor.provisioning_uri(account.email, deps.policy.issuer_name)
    return TotpEnrolment(factor.secret, uri, qr_png(uri))


async def confirm_totp(deps: Deps, user_id: uuid.UUID, code: str, ctx: RequestContext) -> list[str]:
    """Confirm with a first code; return the recovery codes (shown once) if newly issued."""
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        now = deps.clock.now()
        account = await _account(uow, user_id)
        factor = await uow.factors.get_totp(user_id)
        if factor is None or factor.confirmed:
            raise FactorNotEnrolled("no TOTP enrolment is pending")
        counter = await unlocked_counter(deps, uow, account, now)
        try:
            factor.confirm(code.strip(), now)
        except InvalidCode:
            await record_failure(deps, uow, account, None, counter, ctx, now)
            await uow.commit()
            raise
        await uow.factors.save_totp(factor)
        account.factors.add("totp")
        await uow.accounts.update(account)
        _enrolled(uow, account, "totp", ctx)
        shown = await _first_recovery_codes(deps, uow, account, ctx)
        await uow.commit()
    return shown


async def start_phone(
    deps: Deps, user_id: uuid.UUID, phone: str, ctx: RequestContext, proof: str | None = None
) -> Challenge:
    """Send a code to a new phone; replacing an enrolled one needs a proof first."""
    number = normalise_phone(phone)
    await limit(deps, deps.policy.rates.sms_per_account, str(user_id))
    code = new_sms_code()
    async with deps.uow() as uow:
        now = deps.clock.now()
        account = await _account(uow, user_id)
        if "sms" in account.factors and account.phone == number:
            raise FactorAlreadyEnrolled()
        if account.has_second_factor:
            await require_proof(deps, uow, account, proof, ctx, now)
        challenge = Challenge.open(user_id, Purpose.PHONE, now, deps.policy.stepup_challenge_ttl)
        challenge.operation = {"phone": number}
        challenge.set_sms_code(code, deps.pepper, now)
        await uow.challenges.add(challenge)
        await uow.commit()
    await deps.sms.send(number, f"Coffre: your code to add this phone is {code}. Valid 5 minutes.")
    return challenge


async def confirm_phone(
    deps: Deps, user_id: uuid.UUID, challenge_id: uuid.UUID, code: str, ctx: RequestContext
) -> list[str]:
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        now = deps.clock.now()
        challenge = await uow.challenges.get(challenge_id)
        if challenge is None or challenge.user_id != user_id or challenge.purpose != Purpose.PHONE:
            raise ChallengeNotFound()
        challenge.ensure_open(now)
        account = await _account(uow, user_id)
        counter = await unlocked_counter(deps, uow, account, now)
        try:
            await check_code(deps, uow, account, challenge, Method.SMS, code, now)
        except InvalidCode:
            await record_failure(deps, uow, account, challenge, counter, ctx, now)
            await uow.commit()
            raise
        challenge.consume(now)
        await uow.challenges.update(challenge)
        account.phone, account.phone_verified_at = challenge.operation["phone"], now
        account.factors.add("sms")
        await uow.accounts.update(account)
        _enrolled(uow, account, "sms", ctx)
        shown = await _first_recovery_codes(deps, uow, account, ctx)
        await uow.commit()
    return shown


async def remove_factor(
    deps: Deps,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    factor: str,
    proof: str,
    ctx: RequestContext,
) -> None:
    """Remove ``totp`` or ``sms``; ``proof`` is a current TOTP code or a recovery code."""
    if factor not in ("totp", "sms"):
        raise FactorNotEnrolled()
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        now = deps.clock.now()
        account = await _account(uow, user_id)
        if factor not in account.factors:
            raise FactorNotEnrolled()
        await require_proof(deps, uow, account, proof, ctx, now)
        account.factors.discard(factor)
        if factor == "totp":
            await uow.factors.delete_totp(user_id)
        else:
            account.phone = account.phone_verified_at = None
        if not account.has_second_factor:
            await uow.factors.delete_recovery(user_id)
        await uow.accounts.update(account)
        uow.record(
            FactorRemoved(user_id=user_id, factor=factor, **ctx.acting(user_id).audit()),
            subject=str(user_id),
        )
        await revoke_all_in(deps, uow, user_id, ctx, "factor-change", keep=session_id)
        await uow.commit()


async def regenerate_recovery_codes(
    deps: Deps, user_id: uuid.UUID, proof: str | None, ctx: RequestContext
) -> list[str]:
    """Replace every recovery code; ``proof`` is a current TOTP code or an unused recovery code."""
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        account = await _account(uow, user_id)
        if not account.has_second_factor:
            raise FactorNotEnrolled()
        await require_proof(deps, uow, account, proof, ctx, deps.clock.now())
        codes, shown = RecoveryCodes.issue(user_id, deps.pepper)
        await uow.factors.save_recovery(codes)
        _enrolled(uow, account, "recovery-codes", ctx)
        await uow.commit()
    return shown
