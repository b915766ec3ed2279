"""Checking a second-factor code against a challenge, and what a wrong code costs.

Rules: a wrong or replayed code counts against the challenge (5 lock it) and against the
account (5 consecutive failures lock sign-in for 30 minutes); both raise alert events; while the
account is locked no code is checked at all.
"""

from __future__ import annotations

from datetime import datetime

from common.events.auth import AccountLocked, ChallengeLocked

from auth.domain.accounts import Account
from auth.domain.challenges import Challenge, Method
from auth.domain.errors import FactorNotEnrolled, InvalidCode
from auth.domain.lockout import FailureCount
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork
from auth.service.throttle import account_key

AMR = {Method.SMS: "sms", Method.TOTP: "otp", Method.RECOVERY: "recovery"}


async def unlocked_counter(
    deps: Deps, uow: AuthUnitOfWork, account: Account, now: datetime
) -> FailureCount:
    counter = await uow.failures.get(account_key(account.id))
    counter.ensure_unlocked(now)
    return counter


async def check_code(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    challenge: Challenge,
    method: Method,
    code: str,
    now: datetime,
) -> str:
    """Verify one code; return its amr value or raise InvalidCode / CodeAlreadyUsed."""
    if method is Method.SMS:
        if challenge.method is not Method.SMS:
            raise FactorNotEnrolled("no SMS code was sent for this challenge")
        if not challenge.sms_code_matches(code.strip(), deps.pepper, now):
            raise InvalidCode()
    elif method is Method.TOTP:
        factor = await uow.factors.get_totp(account.id)
        if factor is None or not factor.confirmed:
            raise FactorNotEnrolled()
        factor.use(code.strip(), now)
        await uow.factors.save_totp(factor)
    else:
        codes = await uow.factors.get_recovery(account.id)
        if codes is None or not codes.consume(code, deps.pepper):
            raise InvalidCode()
        await uow.factors.save_recovery(codes)
    return AMR[method]


async def record_failure(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    challenge: Challenge | None,
    counter: FailureCount,
    ctx: RequestContext,
    now: datetime,
) -> None:
    """Count a wrong code on the challenge and the account; raise alerts when either locks."""
    audit = ctx.acting(account.id).audit()
    if challenge is not None:
        if challenge.record_failure(now):
            uow.record(
                ChallengeLocked(
                    user_id=account.id,
                    challenge_id=challenge.id,
                    purpose=challenge.purpose.value,
                    method=challenge.method.value if challenge.method else None,
                    **audit,
                ),
                subject=str(account.id),
            )
        await uow.challenges.update(challenge)
    await count_account_failure(deps, uow, account, counter, ctx, now)


async def count_account_failure(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    counter: FailureCount,
    ctx: RequestContext,
    now: datetime,
) -> None:
    if counter.fail(now, deps.policy.lockout) and counter.locked_until is not None:
        uow.record(
            AccountLocked(
                user_id=account.id,
                locked_until=counter.locked_until,
                failures=counter.failures,
                **ctx.acting(account.id).audit(),
            ),
            subject=str(account.id),
        )
    await uow.failures.save(counter)
