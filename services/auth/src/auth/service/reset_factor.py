"""The second factor a password reset needs when the account has one enrolled.

Rules: the proof is a current TOTP code, an unused recovery code, or an SMS code sent to the
enrolled phone for this reset link (``send_reset_sms``; the code lives 5 minutes, at most 3 per
link, each counting against the member's SMS limit); a wrong proof counts towards the lockout
(and, for SMS, against the challenge) and is committed at once; a replayed TOTP code is refused
without being counted; a locked account checks no proof at all.
"""

from __future__ import annotations

from datetime import datetime

from auth.domain.accounts import Account, mask_phone
from auth.domain.challenges import Challenge, Method, Purpose
from auth.domain.codes import new_sms_code
from auth.domain.errors import ChallengeExpired, FactorNotEnrolled, InvalidCode, ProofRequired
from auth.domain.links import LinkPurpose
from auth.service import links
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.factor_checks import check_code, record_failure, require_proof, unlocked_counter
from auth.service.ports import AuthUnitOfWork
from auth.service.throttle import limit

TICKET_PURPOSE = "reset-ticket"
PURPOSE = LinkPurpose.PASSWORD_RESET


async def send_reset_sms(deps: Deps, token: str, ctx: RequestContext) -> tuple[str, datetime]:
    """Text a reset code to the account's enrolled phone; return the masked phone and expiry."""
    await limit(deps, deps.policy.rates.code_per_ip, ctx.ip)
    async with deps.uow() as uow:
        link = await links.find(deps, uow, PURPOSE, token)
        account = await uow.accounts.get(link.user_id) if link.user_id else None
    if account is None or "sms" not in account.factors or not account.phone:
        raise FactorNotEnrolled("no verified phone for SMS codes")
    await limit(deps, deps.policy.rates.sms_per_account, str(account.id))
    code = new_sms_code()
    async with deps.uow() as uow:
        challenge = await _challenge(deps, uow, account, token, link.expires_at)
        challenge.set_sms_code(code, deps.pepper, deps.clock.now())
        await uow.challenges.update(challenge)
        await uow.commit()
    text = f"Coffre: your password reset code is {code}. Valid 5 minutes. Never share it."
    await deps.sms.send(account.phone, text)
    assert challenge.code_expires_at is not None
    return mask_phone(account.phone), challenge.code_expires_at


async def _challenge(
    deps: Deps, uow: AuthUnitOfWork, account: Account, token: str, until: datetime
) -> Challenge:
    """The reset link's SMS challenge (one per link, living as long as the link)."""
    ticket = deps.pepper.digest(TICKET_PURPOSE, token)
    challenge = await uow.challenges.by_ticket(ticket)
    if challenge is None:
        now = deps.clock.now()
        challenge = Challenge.open(account.id, Purpose.PASSWORD_RESET, now, until - now)
        challenge.ticket_hash = ticket
        await uow.challenges.add(challenge)
    return challenge


async def prove(
    deps: Deps,
    uow: AuthUnitOfWork,
    account: Account,
    token: str,
    proof: str | None,
    method: Method | None,
    ctx: RequestContext,
) -> str:
    """Check the reset's second-factor proof; return what proved it (totp, recovery, sms)."""
    now = deps.clock.now()
    if method is not Method.SMS:
        await require_proof(deps, uow, account, proof, ctx, now)
        text = (proof or "").strip()
        return "totp" if len(text) == 6 and text.isdigit() else "recovery"
    challenge = await uow.challenges.by_ticket(deps.pepper.digest(TICKET_PURPOSE, token))
    if challenge is None or challenge.purpose is not Purpose.PASSWORD_RESET:
        raise ChallengeExpired("no SMS code was sent for this link")
    challenge.ensure_open(now)
    counter = await unlocked_counter(deps, uow, account, now)
    if not proof:
        raise ProofRequired()
    try:
        await check_code(deps, uow, account, challenge, Method.SMS, proof, now)
    except InvalidCode:
        await record_failure(deps, uow, account, challenge, counter, ctx, now)
        await uow.commit()
        raise
    challenge.consume(now)
    await uow.challenges.update(challenge)
    return "sms"
