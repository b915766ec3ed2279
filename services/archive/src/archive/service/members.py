"""Members as archive knows them: a personal receipts address and their verified senders.

Rules: the receipts address is created on first use (or at registration) and never changes;
a sender is trusted only when auth says the member verified it (`UserRegistered.verified_email`,
a link the member clicked or their identity provider): members cannot add senders here.
"""

from __future__ import annotations

from archive.domain import mail
from archive.service.context import Context
from archive.service.ports import Store


async def _ensure_token(uow: Store, user_id: str) -> str:
    token = await uow.members.address_token(user_id)
    if token is None:
        await uow.members.set_address_token(user_id, mail.new_token())
        token = await uow.members.address_token(user_id)
    assert token is not None
    return token


async def receipts_address(ctx: Context, user_id: str) -> str:
    async with ctx.uow() as uow:
        token = await _ensure_token(uow, user_id)
        await uow.commit()
    return f"{token}@{ctx.policy.mail_domain}"


async def members_registered(uow: Store, registered: list[tuple[str, str | None]]) -> None:
    """(member, verified e-mail or None) for each registration: an address for each new member,
    their verified sender trusted; a member seen again keeps the address they have."""
    tokens = [(user, mail.new_token()) for user, _ in registered]
    senders = [(user, mail.normalise_address(email)) for user, email in registered if email]
    await uow.members.register_many(tokens, senders)
