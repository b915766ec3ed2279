"""Who is calling: the member behind an access token, and their IP address for the bank.

Rules: every member route needs a valid access token from auth (verified locally against its
JWKS: signature, issuer, audience, lifetime) whose scopes include one of `member_scopes`; the
member is the token's subject. The member's IP (forwarded to the bank on attended reads) is
the gateway's header when one is configured, else the peer address; it must be an IP address.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from common.security.access_tokens import AccessTokenVerifier, InsufficientScope, bearer_token
from fastapi import Request

from aggregation.domain.errors import MemberIpUnknown


@dataclass(frozen=True)
class Member:
    user_id: str


class MemberAuthenticator:
    def __init__(self, verifier: AccessTokenVerifier, scopes: frozenset[str]) -> None:
        self._verifier = verifier
        self._scopes = scopes

    async def authenticate(self, authorization: str | None) -> Member:
        claims = await self._verifier.verify(bearer_token(authorization))
        if not claims.scopes & self._scopes:
            raise InsufficientScope()
        return Member(user_id=claims.subject)


def client_ip(request: Request, header: str | None) -> str:
    candidate = None
    if header:
        forwarded = request.headers.get(header)
        candidate = forwarded.split(",")[0].strip() if forwarded else None
    if candidate is None and request.client is not None:
        candidate = request.client.host
    try:
        return str(ipaddress.ip_address(candidate or ""))
    except ValueError:
        raise MemberIpUnknown() from None
