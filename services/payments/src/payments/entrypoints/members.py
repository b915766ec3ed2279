"""Who is calling: the member behind an access token with the ``payment`` scope.

Rules: the token is verified locally against auth's JWKS (signature, issuer, audience,
lifetime), must carry the payment scope, and its session must not have been revoked (auth's
``SessionRevoked``): logout stops payments at once. The device is the app's ``X-Device-ID``
header when it sends one (an opaque id of safe characters).
"""

from __future__ import annotations

import re

from common.security.access_tokens import AccessTokenVerifier, InsufficientScope, bearer_token

from payments.domain.errors import InputInvalid, SessionRevoked
from payments.service.create import Requester
from payments.service.ports import UnitOfWorkFactory

_DEVICE = re.compile(r"^[A-Za-z0-9._:@-]{1,128}$")


class MemberAuthenticator:
    def __init__(self, verifier: AccessTokenVerifier, scope: str, uow: UnitOfWorkFactory) -> None:
        self._verifier = verifier
        self._scope = scope
        self._uow = uow

    async def authenticate(self, authorization: str | None, device: str | None) -> Requester:
        claims = await self._verifier.verify(bearer_token(authorization))
        if self._scope not in claims.scopes:
            raise InsufficientScope()
        async with self._uow() as uow:
            if await uow.sessions.is_revoked(claims.session_id):
                raise SessionRevoked("this session was signed out; sign in again")
        if device is not None and not _DEVICE.match(device):
            raise InputInvalid("X-Device-ID must be an opaque id of safe characters")
        return Requester(claims.subject, claims.session_id, device)
