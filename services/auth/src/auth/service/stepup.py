"""Step-up (strong customer authentication) with dynamic linking.

Rules: a step-up challenge describes one operation (kind, amount, currency, payee, operation
id) and is bound to its digest; the SMS sent for it shows the amount and the payee; a right code
within 5 minutes yields a signed authorisation for that digest only, valid 2 minutes, single use
(the consumer records its id); wrong codes count against the challenge and the account, and
every issue, success and failure is audited; each SMS counts against the member's SMS limit.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from common.errors import CoffreError
from common.events.auth import StepUpFailed, StepUpIssued, StepUpVerified
from common.security.stepup import Operation, operation_digest

from auth.domain.accounts import Account, mask_phone
from auth.domain.challenges import Challenge, Method, Purpose
from auth.domain.codes import new_sms_code
from auth.domain.errors import (
    ChallengeExpired,
    ChallengeLocked,
    ChallengeNotFound,
    CodeAlreadyUsed,
    FactorNotEnrolled,
    InvalidCode,
    SessionExpired,
)
from auth.domain.lockout import FailureCount
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.factor_checks import check_code, record_failure, unlocked_counter
from auth.service.ports import AuthUnitOfWork
from auth.service.throttle import limit

IBAN_LIKE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{9,30}")
KIND_WORDS = {"payment": "payment", "deposit": "deposit", "withdrawal": "withdrawal"}


@dataclass(frozen=True)
class StepUpStarted:
    challenge_id: uuid.UUID
    method: Method
    expires_at: datetime
    operation_digest: str
    sent_to: str | None = None


@dataclass(frozen=True)
class StepUpGranted:
    authorisation: str
    authorisation_id: str
    expires_at: datetime
    operation_digest: str


def display_payee(payee: str) -> str:
    """Payee as shown to the member and stored: an account number (IBAN-shaped run, even inside
    other text) as its first and last four characters, never in full."""
    found = IBAN_LIKE.search("".join(payee.split()).upper())
    if found:
        return f"{found[0][:4]}…{found[0][-4:]}"
    return " ".join(payee.split())[:40]


def sms_text(code: str, operation: dict[str, str]) -> str:
    kind = KIND_WORDS.get(operation["kind"], operation["kind"])
    return (
        f"Coffre: code {code} authorises the {kind} of {operation['amount']} "
        f"{operation['currency']} to {operation['payee']}. Valid 5 minutes. Never share it."
    )


async def start_stepup(
    deps: Deps, user_id: uuid.UUID, operation: Operation, method: Method, ctx: RequestContext
) -> StepUpStarted:
    canonical = operation.canonical()
    digest = operation_digest(operation)
    await limit(deps, deps.policy.rates.stepup_per_account, str(user_id))
    if method is Method.SMS:
        await limit(deps, deps.policy.rates.sms_per_account, str(user_id))
    code = new_sms_code() if method is Method.SMS else None
    async with deps.uow() as uow:
        now = deps.clock.now()
        account = await uow.accounts.get(user_id)
        if account is None:
            raise SessionExpired()
        _require_factor(account, method)
        challenge = Challenge.open(user_id, Purpose.STEP_UP, now, deps.policy.stepup_challenge_ttl)
        challenge.operation_digest = digest
        challenge.operation = {
            "kind": str(canonical["kind"]),
            "amount": str(canonical["amount"]),
            "currency": str(canonical["currency"]),
            "payee": display_payee(operation.payee),
            "operation_id": str(canonical["operation_id"]),
        }
        challenge.method = method
        if code is not None:
            challenge.set_sms_code(code, deps.pepper, now)
        await uow.challenges.add(challenge)
        uow.record(
            StepUpIssued(
                user_id=user_id,
                challenge_id=challenge.id,
                operation_kind=challenge.operation["kind"],
                operation_id=challenge.operation["operation_id"],
                operation_digest=digest,
                method=method.value,
                **ctx.acting(user_id).audit(),
            ),
            subject=str(user_id),
        )
        await uow.commit()
    sent_to = None
    if code is not None and account.phone:
        await deps.sms.send(account.phone, sms_text(code, challenge.operation))
        sent_to = mask_phone(account.phone)
    return StepUpStarted(challenge.id, method, challenge.expires_at, digest, sent_to)


def _require_factor(account: Account, method: Method) -> None:
    if method is Method.SMS and ("sms" not in account.factors or not account.phone):
        raise FactorNotEnrolled("no verified phone for SMS codes")
    if method is Method.TOTP and "totp" not in account.factors:
        raise FactorNotEnrolled("no authenticator app enrolled")
    if method is Method.RECOVERY:
        raise FactorNotEnrolled("recovery codes cannot authorise an operation")


async def verify_stepup(
    deps: Deps, user_id: uuid.UUID, challenge_id: uuid.UUID, code: str, ctx: RequestContext
) -> StepUpGranted:
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        now = deps.clock.now()
        challenge = await uow.challenges.get(challenge_id)
        if challenge is None or challenge.user_id != user_id:
            raise ChallengeNotFound()
        if challenge.purpose is not Purpose.STEP_UP or challenge.method is None:
            raise ChallengeNotFound()
        account = await uow.accounts.get(user_id)
        if account is None:
            raise SessionExpired()
        try:
            challenge.ensure_open(now)
            counter = await unlocked_counter(deps, uow, account, now)
            await _check(deps, uow, account, challenge, counter, code, ctx, now)
        except CoffreError as exc:
            _failed(uow, challenge, exc, ctx)
            await uow.commit()
            raise
        challenge.consume(now)
        await uow.challenges.update(challenge)
        counter.succeed()
        await uow.failures.save(counter)
        granted = await _grant(deps, uow, challenge, ctx)
        await uow.commit()
    return granted


async def _check(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    challenge: Challenge,
    counter: FailureCount,
    code: str,
    ctx: RequestContext,
    now: datetime,
) -> None:
    assert challenge.method is not None
    try:
        await check_code(deps, uow, account, challenge, challenge.method, code, now)
    except InvalidCode:
        await record_failure(deps, uow, account, challenge, counter, ctx, now)
        raise


def _failed(
    uow: AuthUnitOfWork, challenge: Challenge, exc: CoffreError, ctx: RequestContext
) -> None:
    reasons = {ChallengeExpired: "expired", ChallengeLocked: "locked", CodeAlreadyUsed: "reused"}
    reason = next((r for t, r in reasons.items() if isinstance(exc, t)), exc.code.split(".")[-1])
    uow.record(
        StepUpFailed(
            user_id=challenge.user_id,
            challenge_id=challenge.id,
            reason=reason,
            attempts=challenge.attempts,
            **ctx.acting(challenge.user_id).audit(),
        ),
        subject=str(challenge.user_id),
    )


async def _grant(
    deps: Deps, uow: AuthUnitOfWork, challenge: Challenge, ctx: RequestContext
) -> StepUpGranted:
    assert challenge.operation_digest is not None
    assert challenge.method is not None
    signed = await deps.tokens.stepup_authorisation(
        challenge.user_id,
        challenge.id,
        challenge.operation_digest,
        challenge.operation["kind"],
        challenge.method.value,
    )
    uow.record(
        StepUpVerified(
            user_id=challenge.user_id,
            challenge_id=challenge.id,
            authorisation_id=signed.token_id,
            operation_id=challenge.operation["operation_id"],
            operation_digest=challenge.operation_digest,
            expires_at=signed.expires_at,
            **ctx.acting(challenge.user_id).audit(),
        ),
        subject=str(challenge.user_id),
    )
    return StepUpGranted(
        signed.token, signed.token_id, signed.expires_at, challenge.operation_digest
    )
