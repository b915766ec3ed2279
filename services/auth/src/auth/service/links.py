"""One-time e-mail links, shared by registration and password reset (one place for both).

Rules: a link is sent only to the address it was asked for; its token is stored only as a
keyed hash bound to its purpose; ``find`` checks a link without using it (so a weak password
or a wrong second factor does not burn it); ``redeem`` uses it once — it removes every link of
that purpose for the address in one statement, so of two links redeemed at once only one wins.
"""

from __future__ import annotations

import uuid

from auth.domain.codes import new_token
from auth.domain.errors import LinkInvalid
from auth.domain.links import LINK_TTL, EmailLink, LinkPurpose
from auth.service.deps import Deps
from auth.service.ports import AuthUnitOfWork

HASH_PURPOSE = "email-link"
PAGES = {LinkPurpose.REGISTRATION: "register", LinkPurpose.PASSWORD_RESET: "reset-password"}


def _hash(deps: Deps, purpose: LinkPurpose, token: str) -> str:
    return deps.pepper.digest(HASH_PURPOSE, purpose.value, token)


async def issue(
    deps: Deps,
    uow: AuthUnitOfWork,
    purpose: LinkPurpose,
    email: str,
    user_id: uuid.UUID | None = None,
) -> str:
    """Store a new link for ``email`` and return its token (to send, never to log)."""
    token, now = new_token(), deps.clock.now()
    digest, expires = _hash(deps, purpose, token), now + LINK_TTL[purpose]
    await uow.links.add(EmailLink(digest, purpose, email, user_id, now, expires))
    return token


async def find(deps: Deps, uow: AuthUnitOfWork, purpose: LinkPurpose, token: str) -> EmailLink:
    """The link behind ``token`` if it is usable now for ``purpose``, else LinkInvalid."""
    link = await uow.links.find(_hash(deps, purpose, token))
    if link is None or not link.usable(purpose, deps.clock.now()):
        raise LinkInvalid()
    return link


async def redeem(deps: Deps, uow: AuthUnitOfWork, purpose: LinkPurpose, token: str) -> EmailLink:
    """Use the link once: it and every other link of ``purpose`` for its address are gone."""
    link = await find(deps, uow, purpose, token)
    taken = await uow.links.take_all(purpose, link.email)
    if link.token_hash not in {t.token_hash for t in taken}:
        raise LinkInvalid()
    return link


def url(deps: Deps, purpose: LinkPurpose, token: str) -> str:
    """The link the member opens: the app reads the token from the fragment (never sent to a
    server in a request line or a Referer) and posts it to auth."""
    return f"{deps.policy.link_base_url.rstrip('/')}/{PAGES[purpose]}#token={token}"


def minutes(purpose: LinkPurpose) -> int:
    return int(LINK_TTL[purpose].total_seconds() // 60)
