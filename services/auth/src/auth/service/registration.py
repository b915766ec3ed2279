"""Registration: the address first, the password only from whoever reads its mailbox.

Rules: asking to register takes an e-mail address only and answers the same whether or not it
is taken — a new address gets a one-time link (60 minutes), a taken one a notice; it is limited
per client address and per e-mail address. The account is created, with the password its
redeemer chooses, when a link is redeemed: the first link redeemed wins, every other link for
that address stops working, and a link for an address that has meanwhile got an account is
refused. So whoever asks for an address they do not read never chooses its password.
"""

from __future__ import annotations

import uuid

from common.events.auth import UserRegistered

from auth.domain.accounts import Account, normalise_email
from auth.domain.errors import LinkInvalid
from auth.domain.links import LinkPurpose
from auth.service import links
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.throttle import in_thread, limit

PURPOSE = LinkPurpose.REGISTRATION


async def register(deps: Deps, email: str, ctx: RequestContext) -> None:
    """Send a registration link (new address) or a notice (taken address); no password here."""
    await limit(deps, deps.policy.rates.register_per_ip, ctx.ip)
    address = normalise_email(email)
    address_digest = deps.pepper.digest("address", address)
    await limit(deps, deps.policy.rates.register_per_address, address_digest)
    async with deps.uow() as uow:
        taken = await uow.accounts.by_email(address) is not None
        token = None if taken else await links.issue(deps, uow, PURPOSE, address)
        await uow.commit()
    if token is None:
        await deps.mailer.send(
            address,
            "Someone tried to register with your address",
            "An account already exists for this address. If this was you, sign in instead, "
            "or ask for a password reset if you lost your password.",
        )
        return
    await deps.mailer.send(
        address,
        "Choose your Coffre password",
        "To finish creating your Coffre account, open this link and choose your password. "
        f"It works once, for {links.minutes(PURPOSE)} minutes. If you did not ask for an "
        f"account, ignore this e-mail.\n\n{links.url(deps, PURPOSE, token)}",
    )


async def complete(deps: Deps, token: str, password: str, ctx: RequestContext) -> uuid.UUID:
    """Redeem a registration link with the password its holder chooses; create the account."""
    await limit(deps, deps.policy.rates.link_per_ip, ctx.ip)
    async with deps.uow() as uow:
        address = (await links.find(deps, uow, PURPOSE, token)).email
    deps.policy.passwords.check(password, context=(address.split("@")[0], address))
    password_hash = await in_thread(deps.hasher.hash, password)
    async with deps.uow() as uow:
        link = await links.redeem(deps, uow, PURPOSE, token)
        if await uow.accounts.by_email(link.email) is not None:
            await uow.commit()
            raise LinkInvalid()
        account = Account.open(link.email, password_hash, deps.clock.now())
        await uow.accounts.add(account)
        uow.record(
            UserRegistered(
                user_id=account.id,
                method="password",
                verified_email=account.email,
                **ctx.acting(account.id).audit(),
            ),
            subject=str(account.id),
        )
        await uow.commit()
    return account.id
