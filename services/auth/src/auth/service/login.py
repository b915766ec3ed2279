"""Login: password first, then the second factor when one is enrolled (or mandatory).

Rules: an unknown address, a wrong password and a locked address get the same answers in the
same time (a dummy hash is verified for unknown addresses, and failures are counted per address
too); the failure count is reset only by a complete login; a login ticket for the second factor
is opaque, single use and valid 5 minutes; the payment scope needs a second factor; when the
second factor is mandatory and none is enrolled, the session is limited to enrolling one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from common.errors import CoffreError
from common.events.auth import LoginFailed

from auth.domain.accounts import Account, mask_phone, normalise_email
from auth.domain.challenges import Challenge, Method, Purpose
from auth.domain.codes import new_sms_code, new_token
from auth.domain.errors import (
    ChallengeExpired,
    CodeAlreadyUsed,
    FactorNotEnrolled,
    InvalidCode,
    InvalidCredentials,
    SecondFactorRequired,
)
from auth.domain.sessions import Scope
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.factor_checks import (
    check_code,
    count_account_failure,
    record_failure,
    unlocked_counter,
)
from auth.service.ports import AuthUnitOfWork
from auth.service.sessions import TokenPair, start_session
from auth.service.throttle import account_key, address_key, in_thread, limit

TICKET_PURPOSE = "login-ticket"


@dataclass(frozen=True)
class LoginResult:
    """Either tokens, or a ticket to complete with a second factor."""

    tokens: TokenPair | None = None
    ticket: str | None = None
    methods: list[str] = field(default_factory=list)
    ticket_expires_at: datetime | None = None


def _methods(account: Account) -> list[str]:
    found: list[str] = [m for m in ("totp", "sms") if m in account.factors]
    return [*found, "recovery"] if found else found


async def login(
    deps: Deps, email: str, password: str, ctx: RequestContext, scope: Scope = Scope.MEMBER
) -> LoginResult:
    await limit(deps, deps.policy.rates.login_per_ip, ctx.ip)
    try:
        address = normalise_email(email)
    except CoffreError:
        raise InvalidCredentials() from None
    address_digest = deps.pepper.digest("address", address)
    await limit(deps, deps.policy.rates.login_per_account, address_digest)
    async with deps.uow() as uow:
        account = await uow.accounts.by_email(address)
        key = account_key(account.id) if account else address_key(address_digest)
        (await uow.failures.get(key)).ensure_unlocked(deps.clock.now())
    if account is not None and account.password_hash:
        ok = await in_thread(deps.hasher.verify, account.password_hash, password)
    else:
        ok = False
        await in_thread(deps.hasher.burn, password)
    if ok and account is not None and deps.hasher.needs_rehash(account.password_hash or ""):
        account.password_hash = await in_thread(deps.hasher.hash, password)
    async with deps.uow() as uow:
        now = deps.clock.now()
        counter = await uow.failures.get(key)
        counter.ensure_unlocked(now)
        if not ok or account is None:
            await _password_failed(deps, uow, account, key, ctx, now)
            await uow.commit()
            raise InvalidCredentials()
        result = await _after_password(deps, uow, account, scope, ctx, now)
        if result.tokens is not None:
            counter.succeed()
            await uow.failures.save(counter)
        await uow.accounts.update(account)
        await uow.commit()
    return result


async def _password_failed(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account | None,
    key: str,
    ctx: RequestContext,
    now: datetime,
) -> None:
    audit = ctx.acting(account.id).audit() if account else ctx.audit()
    uow.record(
        LoginFailed(
            user_id=account.id if account else None,
            reason="bad-credentials",
            stage="password",
            **audit,
        ),
        subject=str(account.id) if account else "unknown",
    )
    counter = await uow.failures.get(key)
    if account is None:
        counter.fail(now, deps.policy.lockout)
        await uow.failures.save(counter)
    else:
        await count_account_failure(deps, uow, account, counter, ctx, now)


async def _after_password(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    scope: Scope,
    ctx: RequestContext,
    now: datetime,
) -> LoginResult:
    if account.has_second_factor:
        challenge = Challenge.open(account.id, Purpose.LOGIN, now, deps.policy.login_challenge_ttl)
        ticket = new_token()
        challenge.ticket_hash = deps.pepper.digest(TICKET_PURPOSE, ticket)
        challenge.scope = scope.value
        await uow.challenges.add(challenge)
        return LoginResult(
            ticket=ticket, methods=_methods(account), ticket_expires_at=challenge.expires_at
        )
    if scope is Scope.PAYMENT:
        raise SecondFactorRequired()
    granted = Scope.ENROL if deps.policy.require_second_factor else scope
    tokens = await start_session(deps, uow, account, granted, ("pwd",), ctx)
    return LoginResult(tokens=tokens)


async def _ticket_challenge(deps: Deps, uow: AuthUnitOfWork, ticket: str) -> Challenge:
    challenge = await uow.challenges.by_ticket(deps.pepper.digest(TICKET_PURPOSE, ticket))
    if challenge is None or challenge.purpose is not Purpose.LOGIN:
        raise ChallengeExpired()
    return challenge


async def send_login_sms(deps: Deps, ticket: str, ctx: RequestContext) -> tuple[str, datetime]:
    """Send an SMS code for a pending login; return the masked phone and the code's expiry."""
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        user_id = (await _ticket_challenge(deps, uow, ticket)).user_id
    await limit(deps, deps.policy.rates.sms_per_account, str(user_id))
    async with deps.uow() as uow:
        challenge = await _ticket_challenge(deps, uow, ticket)
        account = await uow.accounts.get(challenge.user_id)
        if account is None or "sms" not in account.factors or not account.phone:
            raise FactorNotEnrolled()
        code = new_sms_code()
        challenge.set_sms_code(code, deps.pepper, deps.clock.now())
        await uow.challenges.update(challenge)
        await uow.commit()
    text = f"Coffre: your sign-in code is {code}. Valid 5 minutes. Never share it."
    await deps.sms.send(account.phone, text)
    assert challenge.code_expires_at is not None
    return mask_phone(account.phone), challenge.code_expires_at


async def complete_login(
    deps: Deps, ticket: str, method: Method, code: str, ctx: RequestContext
) -> TokenPair:
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        now = deps.clock.now()
        challenge = await _ticket_challenge(deps, uow, ticket)
        account = await uow.accounts.get(challenge.user_id)
        if account is None:
            raise ChallengeExpired()
        try:
            challenge.ensure_open(now)
            counter = await unlocked_counter(deps, uow, account, now)
        except CoffreError as exc:
            _second_factor_failed(uow, account, exc, ctx)
            await uow.commit()
            raise
        try:
            amr = await check_code(deps, uow, account, challenge, method, code, now)
        except (InvalidCode, CodeAlreadyUsed) as exc:
            if isinstance(exc, InvalidCode):
                await record_failure(deps, uow, account, challenge, counter, ctx, now)
            _second_factor_failed(uow, account, exc, ctx)
            await uow.commit()
            raise
        challenge.consume(now)
        await uow.challenges.update(challenge)
        counter.succeed()
        await uow.failures.save(counter)
        scope = Scope(challenge.scope or Scope.MEMBER.value)
        tokens = await start_session(deps, uow, account, scope, ("pwd", amr), ctx)
        await uow.commit()
    return tokens


def _second_factor_failed(
    uow: AuthUnitOfWork, account: Account, exc: CoffreError, ctx: RequestContext
) -> None:
    """Audit a refused second factor: wrong or replayed code, expired or locked challenge."""
    uow.record(
        LoginFailed(
            user_id=account.id,
            reason=exc.code.split(".")[-1],
            stage="second-factor",
            **ctx.acting(account.id).audit(),
        ),
        subject=str(account.id),
    )
