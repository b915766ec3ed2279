"""common.security.access_tokens: local verification of auth's access tokens."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from auth.domain.keys import SigningKey
from common.security.access_tokens import (
    AccessTokenVerifier,
    ExpiredToken,
    HttpJwksSource,
    InsufficientScope,
    InvalidToken,
    JwksCache,
    JwksUnavailable,
    StaticJwksSource,
    bearer_token,
)
from joserfc import jwt
from joserfc.jwk import OKPKey, RSAKey

pytestmark = pytest.mark.unit

ISS, AUD = "https://auth.test", "coffre-api"


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _claims(now: float, **over: Any) -> dict[str, Any]:
    base = {
        "iss": ISS, "aud": AUD, "sub": str(uuid.uuid4()), "sid": str(uuid.uuid4()),
        "scope": "member", "amr": ["pwd"], "iat": int(now), "exp": int(now) + 300,
        "jti": str(uuid.uuid4()),
    }  # fmt: skip
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def _sign(key: SigningKey, claims: dict[str, Any], **header: Any) -> str:
    head = {"alg": "Ed25519", "kid": key.kid, "typ": "at+jwt", **header}
    return jwt.encode(head, claims, key.private_key(), algorithms=[head["alg"]])


@pytest.fixture
def setup() -> tuple[SigningKey, Clock, StaticJwksSource, AccessTokenVerifier]:
    from datetime import UTC, datetime

    key = SigningKey.generate(datetime.now(UTC))
    clock = Clock()
    source = StaticJwksSource({"keys": [key.public_jwk()]})
    verifier = AccessTokenVerifier(
        JwksCache(source, clock=clock), issuer=ISS, audience=AUD, clock=clock
    )
    return key, clock, source, verifier


@pytest.mark.asyncio
async def test_valid_token_is_accepted_with_its_claims(setup: Any) -> None:
    key, clock, _, verifier = setup
    claims = _claims(clock.t)
    verified = await verifier.verify(_sign(key, claims), required_scope="member")
    assert verified.subject == claims["sub"]
    assert verified.session_id == claims["sid"]
    assert verified.scopes == {"member"}
    assert verified.methods == ("pwd",)


@pytest.mark.asyncio
async def test_expired_token_is_refused(setup: Any) -> None:
    key, clock, _, verifier = setup
    token = _sign(key, _claims(clock.t))
    clock.t += 306
    with pytest.raises(ExpiredToken):
        await verifier.verify(token)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"iss": "https://evil.test"}, "issuer"),
        ({"aud": "other-api"}, "audience"),
        ({"exp": None}, "exp"),
        ({"iat": 1_800_000_000 + 600}, "not yet"),
        ({"exp": 1_800_000_000 + 3600}, "lifetime"),
        ({"jti": None}, "jti"),
    ],
)
async def test_wrong_claims_are_refused(setup: Any, override: dict[str, Any], reason: str) -> None:
    key, clock, _, verifier = setup
    with pytest.raises(InvalidToken, match=reason):
        await verifier.verify(_sign(key, _claims(clock.t, **override)))


@pytest.mark.asyncio
async def test_audience_list_containing_ours_is_accepted(setup: Any) -> None:
    key, clock, _, verifier = setup
    await verifier.verify(_sign(key, _claims(clock.t, aud=["x", AUD])))


@pytest.mark.asyncio
async def test_none_algorithm_is_refused(setup: Any) -> None:
    key, clock, _, verifier = setup
    head = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": "at+jwt", "kid": key.kid}).encode()
    ).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(_claims(clock.t)).encode()).rstrip(b"=")
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(f"{head.decode()}.{body.decode()}.")


@pytest.mark.asyncio
async def test_hmac_token_signed_with_the_public_key_is_refused(setup: Any) -> None:
    key, clock, _, verifier = setup
    from joserfc.jwk import OctKey

    secret = OctKey.import_key(json.dumps(key.public_jwk()).encode())
    token = jwt.encode(
        {"alg": "HS256", "kid": key.kid, "typ": "at+jwt"}, _claims(clock.t), secret,
        algorithms=["HS256"],
    )  # fmt: skip
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(token)


@pytest.mark.asyncio
async def test_rsa_algorithm_is_refused_when_only_eddsa_is_allowed(setup: Any) -> None:
    _, clock, _, verifier = setup
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r1"})
    token = jwt.encode({"alg": "RS256", "kid": "r1", "typ": "at+jwt"}, _claims(clock.t), rsa)
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(token)


@pytest.mark.asyncio
async def test_token_signed_by_an_unknown_key_is_refused(setup: Any) -> None:
    _, clock, _, verifier = setup
    from datetime import UTC, datetime

    stranger = SigningKey.generate(datetime.now(UTC))
    with pytest.raises(InvalidToken, match="unknown signing key"):
        await verifier.verify(_sign(stranger, _claims(clock.t)))


@pytest.mark.asyncio
async def test_forged_signature_with_a_known_kid_is_refused(setup: Any) -> None:
    key, clock, _, verifier = setup
    other = OKPKey.generate_key("Ed25519")
    token = jwt.encode(
        {"alg": "Ed25519", "kid": key.kid, "typ": "at+jwt"}, _claims(clock.t), other,
        algorithms=["Ed25519"],
    )  # fmt: skip
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify(token)


@pytest.mark.asyncio
async def test_tampered_payload_is_refused(setup: Any) -> None:
    key, clock, _, verifier = setup
    head, _, sig = _sign(key, _claims(clock.t)).split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps(_claims(clock.t, scope="payment")).encode()
    ).rstrip(b"=")
    with pytest.raises(InvalidToken):
        await verifier.verify(f"{head}.{forged.decode()}.{sig}")


@pytest.mark.asyncio
async def test_step_up_token_type_is_not_an_access_token(setup: Any) -> None:
    key, clock, _, verifier = setup
    with pytest.raises(InvalidToken, match="type"):
        await verifier.verify(_sign(key, _claims(clock.t), typ="stepup+jwt"))


@pytest.mark.asyncio
async def test_missing_scope_is_forbidden(setup: Any) -> None:
    key, clock, _, verifier = setup
    with pytest.raises(InsufficientScope):
        await verifier.verify(_sign(key, _claims(clock.t)), required_scope="payment")


def _head(raw: bytes | dict[str, Any]) -> str:
    data = raw if isinstance(raw, bytes) else json.dumps(raw).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode() + ".e30.sig"


GARBAGE = [
    "", "a.b", "a.b.c", "!!!.x.y", "e30.e30.", "x" * 9000, "\u00e9\u00e9.e30.sig",
    _head(b"[" * 5000), _head(b"[1]"), _head({"alg": ["Ed25519"], "typ": "at+jwt", "kid": "k"}),
    _head({"alg": {"a": 1}, "typ": "at+jwt", "kid": "k"}),
    _head({"alg": "Ed25519", "typ": ["at+jwt"], "kid": "k"}),
    _head({"alg": "Ed25519", "typ": "at+jwt", "kid": ["k"]}),
]  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.parametrize("garbage", GARBAGE)
async def test_garbage_is_refused_as_invalid(setup: Any, garbage: str) -> None:
    *_, verifier = setup
    with pytest.raises(InvalidToken):
        await verifier.verify(garbage)


@pytest.mark.asyncio
async def test_jwks_is_cached_and_refetched_for_a_new_kid_at_most_every_10s(setup: Any) -> None:
    key, clock, source, verifier = setup
    for _ in range(3):
        await verifier.verify(_sign(key, _claims(clock.t)))
    assert source.fetches == 1
    from datetime import UTC, datetime

    new = SigningKey.generate(datetime.now(UTC))
    source.document = {"keys": [key.public_jwk(), new.public_jwk()]}
    with pytest.raises(InvalidToken):
        await verifier.verify(_sign(new, _claims(clock.t)))
    clock.t += 11
    await verifier.verify(_sign(new, _claims(clock.t)))
    assert source.fetches == 2
    with pytest.raises(InvalidToken):
        await verifier.verify(_sign(SigningKey.generate(datetime.now(UTC)), _claims(clock.t)))
    assert source.fetches == 2


@pytest.mark.asyncio
async def test_jwks_cache_expires_after_its_ttl(setup: Any) -> None:
    key, clock, source, verifier = setup
    await verifier.verify(_sign(key, _claims(clock.t)))
    clock.t += 301
    await verifier.verify(_sign(key, _claims(clock.t)))
    assert source.fetches == 2


@pytest.mark.asyncio
async def test_private_keys_in_a_jwks_are_ignored() -> None:
    from datetime import UTC, datetime

    key = SigningKey.generate(datetime.now(UTC))
    clock = Clock()
    cache = JwksCache(StaticJwksSource({"keys": [key.private_jwk]}), clock=clock)
    assert await cache.key(key.kid) is None


@pytest.mark.asyncio
async def test_http_jwks_source_fetches_and_reports_failures_without_detail() -> None:
    from datetime import UTC, datetime

    key = SigningKey.generate(datetime.now(UTC))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/jwks.json":
            return httpx.Response(200, json={"keys": [key.public_jwk()]})
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        good = HttpJwksSource("http://auth/.well-known/jwks.json", client=client)
        cache = JwksCache(good, clock=time.monotonic)
        assert await cache.key(key.kid) is not None
        bad = JwksCache(HttpJwksSource("http://auth/broken", client=client))
        with pytest.raises(JwksUnavailable):
            await bad.key(key.kid)


@pytest.mark.asyncio
async def test_stale_keys_are_kept_when_a_refetch_fails(setup: Any) -> None:
    key, clock, _, _ = setup

    class Flaky:
        calls = 0

        async def fetch(self) -> dict[str, Any]:
            self.calls += 1
            if self.calls > 1:
                raise JwksUnavailable()
            return {"keys": [key.public_jwk()]}

    cache = JwksCache(Flaky(), clock=clock)
    assert await cache.key(key.kid) is not None
    clock.t += 400
    assert await cache.key(key.kid) is not None


def test_bearer_header_is_parsed_or_refused() -> None:
    assert bearer_token("Bearer abc.def.ghi") == "abc.def.ghi"
    for bad in (None, "", "Basic xyz", "Bearer "):
        with pytest.raises(InvalidToken):
            bearer_token(bad)
