"""ID-token checks (OpenID Connect Core §3.1.3.7), pure: the key is looked up by the caller.

Rules: the header names an algorithm from the tenant's allow-list (``none`` and HMAC are never
accepted, whatever the list says), a ``kid``, and no ``crit``; the key found for that ``kid`` has
the algorithm's key type (an RSA key never verifies an ``ES256`` token, and no public key ever
serves as an HMAC secret); the signature verifies; ``iss`` is the tenant's issuer exactly;
``aud`` contains our client id, and when it names several audiences ``azp`` is our client id
(``azp``, when present, always is); ``exp`` is in the future and ``iat`` not in the future,
each with a small leeway, and ``iat`` is recent; ``nonce`` is the one we sent for this login;
``at_hash``, when present, matches the access token; ``sub`` is a non-empty string. Every failure
is an ``SsoRefused`` whose message names the check, never the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from auth.domain.errors import SsoRefused

MAX_ID_TOKEN_BYTES = 16_384
LEEWAY_SECONDS = 60
MAX_AGE_SECONDS = 600
NEVER = frozenset({"none", "HS256", "HS384", "HS512"})
EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
AT_HASH = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}
PublicKey = RSAKey | ECKey | OKPKey


@dataclass(frozen=True)
class IdTokenRules:
    """What one login expects of its ID token."""

    issuer: str
    client_id: str
    algorithms: tuple[str, ...]
    nonce_matches: Callable[[str], bool]
    access_token: str | None = None
    leeway_seconds: int = LEEWAY_SECONDS
    max_age_seconds: int = MAX_AGE_SECONDS


def _b64json(segment: str) -> dict[str, Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, UnicodeError, RecursionError):
        raise SsoRefused("the ID token is malformed") from None
    if not isinstance(value, dict):
        raise SsoRefused("the ID token is malformed")
    return value


def read_header(token: str, rules: IdTokenRules) -> tuple[str, str]:
    """Check the token's shape and header; return its (alg, kid)."""
    if len(token) > MAX_ID_TOKEN_BYTES or token.count(".") != 2:
        raise SsoRefused("the ID token is malformed")
    header = _b64json(token.split(".", 1)[0])
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg in NEVER or alg not in rules.algorithms:
        raise SsoRefused("the ID token's algorithm is not allowed")
    if "crit" in header:
        raise SsoRefused("the ID token has critical header parameters")
    if not isinstance(kid, str) or not kid or len(kid) > 256:
        raise SsoRefused("the ID token names no signing key")
    return alg, kid


def key_fits(key: PublicKey, alg: str) -> bool:
    """Whether a public key may verify signatures of ``alg`` (type, curve, declared use/alg)."""
    if key.get("alg") not in (None, alg) or key.get("use") not in (None, "sig"):
        return False
    if alg[:2] in ("RS", "PS"):
        return isinstance(key, RSAKey)
    if alg in EC_CURVES:
        return isinstance(key, ECKey) and key.get("crv") == EC_CURVES[alg]
    return isinstance(key, OKPKey) and key.get("crv") == "Ed25519"


def verify_id_token(
    token: str, alg: str, key: PublicKey, rules: IdTokenRules, now: float
) -> dict[str, Any]:
    """Verify the signature with ``key`` and every claim; return the claims."""
    if not key_fits(key, alg):
        raise SsoRefused("the signing key does not fit the ID token's algorithm")
    try:
        obj = jws.deserialize_compact(token, key, algorithms=[alg])
    except (JoseError, ValueError, TypeError):
        raise SsoRefused("the ID token's signature is not valid") from None
    try:
        claims = json.loads(obj.payload or b"")
    except (ValueError, RecursionError):
        raise SsoRefused("the ID token is malformed") from None
    if not isinstance(claims, dict):
        raise SsoRefused("the ID token is malformed")
    check_claims(claims, alg, rules, now)
    return claims


def check_claims(claims: Mapping[str, Any], alg: str, rules: IdTokenRules, now: float) -> None:
    if claims.get("iss") != rules.issuer:
        raise SsoRefused("the ID token comes from another issuer")
    _check_audience(claims, rules.client_id)
    _check_times(claims, rules, now)
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not rules.nonce_matches(nonce):
        raise SsoRefused("the ID token's nonce is not the one sent")
    at_hash = claims.get("at_hash")
    if at_hash is not None and not _at_hash_matches(at_hash, alg, rules.access_token):
        raise SsoRefused("the ID token's at_hash does not match the access token")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise SsoRefused("the ID token names no subject")


def _check_audience(claims: Mapping[str, Any], client_id: str) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise SsoRefused("the ID token is meant for another client")
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != client_id:
        raise SsoRefused("the ID token's authorised party is another client")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise SsoRefused(f"the ID token's {name} is missing or malformed")
    return float(value)


def _check_times(claims: Mapping[str, Any], rules: IdTokenRules, now: float) -> None:
    exp, iat = _number(claims, "exp"), _number(claims, "iat")
    if now >= exp + rules.leeway_seconds:
        raise SsoRefused("the ID token has expired")
    if iat > now + rules.leeway_seconds:
        raise SsoRefused("the ID token is issued in the future")
    if iat < now - rules.max_age_seconds - rules.leeway_seconds:
        raise SsoRefused("the ID token is too old")


def at_hash(access_token: str, alg: str) -> str:
    """The left half of the access token's hash, base64url (OIDC Core §3.1.3.6)."""
    digest = (hashlib.sha512 if alg in ("EdDSA", "Ed25519") else AT_HASH[alg[-3:]])(
        access_token.encode("ascii")
    ).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def _at_hash_matches(value: object, alg: str, access_token: str | None) -> bool:
    if not isinstance(value, str) or access_token is None:
        return False
    try:
        expected = at_hash(access_token, alg)
    except (UnicodeError, KeyError):
        return False
    return hmac.compare_digest(value.encode(), expected.encode())
