"""Registration with e-mail verification, without account enumeration.

Rules: registering answers the same whether or not the address is taken — a new address gets
a verification link, a taken one gets a notice — and the password is hashed in both cases; an
account is created only when its link is followed (once, within 24 hours).
"""

from __future__ import annotations

import uuid

from common.events.auth import UserRegistered

from auth.domain.accounts import Account, PendingRegistration, normalise_email
from auth.domain.codes import new_token
from auth.domain.errors import VerificationInvalid
from auth.service.context import RequestContext
from auth.service.deps import Deps
from auth.service.throttle import in_thread, limit

LINK_PURPOSE = "email-verification"


async def register(deps: Deps, email: str, password: str, ctx: RequestContext) -> None:
    await limit(deps, deps.policy.rates.register_per_ip, ctx.ip)
    address = normalise_email(email)
    deps.policy.passwords.check(password, context=(address.split("@")[0], address))
    password_hash = await in_thread(deps.hasher.hash, password)
    now = deps.clock.now()
    token = new_token()
    async with deps.uow() as uow:
        taken = await uow.accounts.by_email(address) is not None
        if not taken:
            await uow.registrations.add(
                PendingRegistration(
                    deps.pepper.digest(LINK_PURPOSE, token),
                    address,
                    password_hash,
                    now,
                    now + deps.policy.verification_ttl,
                )
            )
        await uow.commit()
    if taken:
        await deps.mailer.send(
            address,
            "Someone tried to register with your address",
            "An account already exists for this address. If this was you, sign in instead.",
        )
    else:
        await deps.mailer.send(
            address,
            "Confirm your Coffre account",
            f"Confirm your address with this one-time link token (valid 24 hours): {token}",
        )


async def verify_email(deps: Deps, token: str, ctx: RequestContext) -> uuid.UUID:
    now = deps.clock.now()
    async with deps.uow() as uow:
        pending = await uow.registrations.take(deps.pepper.digest(LINK_PURPOSE, token))
        if pending is None or now >= pending.expires_at:
            await uow.commit()
            raise VerificationInvalid()
        if await uow.accounts.by_email(pending.email) is not None:
            await uow.commit()
            raise VerificationInvalid()
        account = Account.open(pending.email, pending.password_hash, now)
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
