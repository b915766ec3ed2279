"""Password reset: back into an account through its mailbox (and its second factor).

Rules: asking for a reset takes an e-mail address and answers the same whether or not it has an
account; an account that signs in with a password gets a one-time link (30 minutes), any other
address a notice; asking is limited per client address and per e-mail address, and audited. The
new password is chosen when the link is redeemed; when the account has a second factor, a proof
of it must come too (a current TOTP code, an unused recovery code, or an SMS code sent for this
link: see ``reset_factor``; a wrong one counts towards the lockout and leaves the link usable).
A reset revokes every session of the account (each published as ``SessionRevoked``), clears its
failure count, is audited, and is announced to the address by e-mail.
"""

from __future__ import annotations

from common.events.auth import PasswordResetCompleted, PasswordResetRequested

from auth.domain.accounts import Account, normalise_email
from auth.domain.challenges import Method
from auth.domain.errors import LinkInvalid
from auth.domain.links import LinkPurpose
from auth.service import links
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork
from auth.service.reset_factor import prove
from auth.service.sessions import revoke_all_in
from auth.service.throttle import account_key, in_thread, limit

PURPOSE = LinkPurpose.PASSWORD_RESET


async def request_reset(deps: Deps, email: str, ctx: RequestContext) -> None:
    """E-mail a reset link (password account) or a notice (anything else); same answer."""
    await limit(deps, deps.policy.rates.reset_per_ip, ctx.ip)
    address = normalise_email(email)
    await limit(deps, deps.policy.rates.reset_per_address, deps.pepper.digest("address", address))
    async with deps.uow() as uow:
        account = await uow.accounts.by_email(address)
        token = None
        if account is not None and account.tenant_id is None:
            token = await links.issue(deps, uow, PURPOSE, address, account.id)
            uow.record(
                PasswordResetRequested(user_id=account.id, **ctx.audit()),
                subject=str(account.id),
            )
        await uow.commit()
    if token is None:
        await deps.mailer.send(address, "Your Coffre password reset", NO_RESET)
        return
    await deps.mailer.send(
        address,
        "Reset your Coffre password",
        "Open this link to choose a new password. It works once, for "
        f"{links.minutes(PURPOSE)} minutes; if your account has a second factor you will need "
        "it too. If you did not ask for this, ignore this e-mail: your password stays as it is."
        f"\n\n{links.url(deps, PURPOSE, token)}",
    )


NO_RESET = (
    "Someone asked to reset the password of a Coffre account for this address, but no account "
    "here signs in with a password for it (none exists, or it signs in through your company). "
    "If this was not you, ignore this e-mail."
)
DONE = (
    "The password of your Coffre account was just changed with a reset link, and every device "
    "was signed out. If this was not you, contact Coffre support at once."
)


async def complete_reset(
    deps: Deps,
    token: str,
    password: str,
    proof: str | None,
    ctx: RequestContext,
    method: Method | None = None,
) -> int:
    """Redeem a reset link with the new password (and a proof when a factor is enrolled);
    return how many sessions were revoked."""
    await limit(deps, deps.policy.rates.link_per_ip, ctx.ip)
    async with deps.uow() as uow:
        address = (await links.find(deps, uow, PURPOSE, token)).email
    deps.policy.passwords.check(password, context=(address.split("@")[0], address))
    password_hash = await in_thread(deps.hasher.hash, password)
    async with deps.uow() as uow:
        account = await _account(deps, uow, token)
        factor = None
        if account.has_second_factor:
            factor = await prove(deps, uow, account, token, proof, method, ctx)
        await links.redeem(deps, uow, PURPOSE, token)
        account.password_hash = password_hash
        await uow.accounts.update(account)
        audit = ctx.acting(account.id)
        revoked = await revoke_all_in(deps, uow, account.id, audit, "password-reset")
        counter = await uow.failures.get(account_key(account.id))
        counter.succeed()
        await uow.failures.save(counter)
        uow.record(
            PasswordResetCompleted(
                user_id=account.id,
                second_factor=factor,
                sessions_revoked=revoked,
                **audit.audit(),
            ),
            subject=str(account.id),
        )
        await uow.commit()
    await deps.mailer.send(account.email, "Your Coffre password was changed", DONE)
    return revoked


async def _account(deps: Deps, uow: AuthUnitOfWork, token: str) -> Account:
    link = await links.find(deps, uow, PURPOSE, token)
    account = await uow.accounts.get(link.user_id) if link.user_id else None
    if account is None or account.email != link.email or account.tenant_id is not None:
        raise LinkInvalid()
    return account
