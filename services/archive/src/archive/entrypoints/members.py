"""Who is calling: the member behind an access token.

Rule: every member route needs a valid access token from auth (verified locally against its
JWKS: signature, issuer, audience, lifetime) whose scopes include one of `member_scopes`; the
member is the token's subject.
"""

from __future__ import annotations

from dataclasses import dataclass

from common.security.access_tokens import AccessTokenVerifier, InsufficientScope, bearer_token


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
