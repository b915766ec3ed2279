"""Checking a second-factor code against a challenge, and what a wrong code costs.

Rules: a wrong code counts against the challenge (5 lock it) and against the account (5
consecutive failures lock sign-in for 30 minutes); both raise alert events; while the account is
locked no code is checked at all. A replayed code — a right TOTP code whose time step was
already used — is refused (409 ``auth.code-reused``) and audited but counts for neither lock: it
guesses nothing, and counting it would let a double submit lock a member out. Changing the
factors of an account that has one (adding, replacing, removing, new recovery codes) needs a
proof from it: a current TOTP code or an unused recovery code — a session alone is not enough.
"""

from __future__ import annotations

from datetime import datetime

from common.events.auth import AccountLocked, ChallengeLocked

from auth.domain.accounts import Account
from auth.domain.challenges import Challenge, Method
from auth.domain.errors import FactorNotEnrolled, InvalidCode, ProofRequired
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


async def require_proof(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    proof: str | None,
    ctx: RequestContext,
    now: datetime,
) -> None:
    """Accept a current TOTP code or a recovery code (each used up); a wrong one is counted
    (committed at once) and raises InvalidCode; none at all raises ProofRequired."""
    counter = await unlocked_counter(deps, uow, account, now)
    if not proof:
        raise ProofRequired()
    if not await _proof_ok(deps, uow, account, proof, now):
        await record_failure(deps, uow, account, None, counter, ctx, now)
        await uow.commit()
        raise InvalidCode()


async def _proof_ok(
    deps: Deps, uow: AuthUnitOfWork, account: Account, proof: str, now: datetime
) -> bool:
    totp = await uow.factors.get_totp(account.id)
    if totp is not None and totp.confirmed and totp.matching_step(proof.strip(), now) is not None:
        totp.use(proof.strip(), now)  # a replayed code raises CodeAlreadyUsed, never counted
        await uow.factors.save_totp(totp)
        return True
    codes = await uow.factors.get_recovery(account.id)
    if codes is not None and codes.consume(proof, deps.pepper):
        await uow.factors.save_recovery(codes)
        return True
    return False
