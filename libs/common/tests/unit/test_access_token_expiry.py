"""An access token is refused from its ``exp`` second on: the leeway never extends its life."""

from __future__ import annotations

import uuid

import pytest
from common.security.access_tokens import (
    AccessTokenVerifier,
    ExpiredToken,
    InvalidToken,
    JwksCache,
    StaticJwksSource,
)
from joserfc import jwt
from joserfc.jwk import OKPKey

pytestmark = [pytest.mark.unit, pytest.mark.asyncio]

ISSUED = 1_800_000_000


class Clock:
    def __init__(self) -> None:
        self.t = float(ISSUED)

    def __call__(self) -> float:
        return self.t


def _setup() -> tuple[OKPKey, Clock, AccessTokenVerifier]:
    key = OKPKey.generate_key("Ed25519", parameters={"kid": "k1", "use": "sig"})
    clock = Clock()
    jwks = JwksCache(StaticJwksSource({"keys": [key.as_dict(private=False)]}), clock=clock)
    verifier = AccessTokenVerifier(jwks, issuer="iss", audience="aud", clock=clock)
    return key, clock, verifier


def _token(key: OKPKey, **claims: int) -> str:
    body = {
        "iss": "iss", "aud": "aud", "sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()),
        "scope": "payment", "jti": str(uuid.uuid4()), "iat": ISSUED, "exp": ISSUED + 300,
        **claims,
    }  # fmt: skip
    header = {"alg": "Ed25519", "kid": "k1", "typ": "at+jwt"}
    return jwt.encode(header, body, key, algorithms=["Ed25519"])


async def test_a_token_is_refused_from_its_exp_second_despite_the_default_leeway() -> None:
    key, clock, verifier = _setup()
    token = _token(key)
    clock.t = ISSUED + 299.999
    assert (await verifier.verify(token, required_scope="payment")).expires_at == ISSUED + 300
    clock.t = ISSUED + 300
    with pytest.raises(ExpiredToken):
        await verifier.verify(token)
    clock.t = ISSUED + 303
    with pytest.raises(ExpiredToken):
        await verifier.verify(token)


async def test_the_leeway_still_absorbs_a_small_clock_skew_on_iat() -> None:
    key, _, verifier = _setup()
    assert await verifier.verify(_token(key, iat=ISSUED + 4, exp=ISSUED + 300))
    with pytest.raises(InvalidToken):
        await verifier.verify(_token(key, iat=ISSUED + 6, exp=ISSUED + 300))
