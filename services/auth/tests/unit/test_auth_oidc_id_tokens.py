"""Each ID-token check refuses the token that breaks it (and only that one: every refused token
below differs from an accepted one by one thing), and PKCE follows RFC 7636."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from auth.domain.errors import SsoRefused
from auth.domain.id_tokens import IdTokenRules, PublicKey, at_hash, read_header, verify_id_token
from auth.domain.oidc import code_challenge
from coffre_testing.oidc_provider import mint, new_signing_key
from joserfc.jwk import ECKey, RSAKey

pytestmark = pytest.mark.unit
ISSUER = "https://idp.acme.test"
CLIENT = "coffre-acme"
NONCE = "n-0S6_WzA2Mj"
ACCESS = "access-token-value"
NOW = time.time()
KEY = new_signing_key("k1")
PUBLIC = RSAKey.import_key(KEY.as_dict(private=False))


def _rules(**changes: Any) -> IdTokenRules:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": CLIENT,
        "algorithms": ("RS256", "ES256"),
        "nonce_matches": lambda nonce: nonce == NONCE,
        "access_token": ACCESS,
    }
    return IdTokenRules(**(values | changes))


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "iss": ISSUER,
        "sub": "employee-1",
        "aud": CLIENT,
        "iat": int(NOW),
        "exp": int(NOW) + 300,
        "nonce": NONCE,
        "at_hash": at_hash(ACCESS, "RS256"),
    }
    return {k: v for k, v in (claims | changes).items() if v is not None}


def _check(token: str, key: PublicKey = PUBLIC, rules: IdTokenRules | None = None) -> Any:
    rules = rules or _rules()
    alg, _ = read_header(token, rules)
    return verify_id_token(token, alg, key, rules, NOW)


def _refused(token: str, reason: str, **kwargs: Any) -> None:
    with pytest.raises(SsoRefused) as caught:
        _check(token, **kwargs)
    assert reason in caught.value.message


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    def part(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    return ".".join(
        (part(json.dumps(header).encode()), part(json.dumps(claims).encode()), part(signature))
    )


def test_a_token_passing_every_check_is_accepted() -> None:
    assert _check(mint(_claims(), KEY))["sub"] == "employee-1"


def test_token_from_another_issuer_is_refused() -> None:
    _refused(mint(_claims(iss="https://evil.test"), KEY), "another issuer")


def test_token_for_another_client_is_refused() -> None:
    _refused(mint(_claims(aud="someone-else"), KEY), "another client")


def test_token_for_several_audiences_needs_our_client_as_authorised_party() -> None:
    _refused(mint(_claims(aud=[CLIENT, "other"]), KEY), "authorised party")
    _refused(mint(_claims(aud=[CLIENT, "other"], azp="other"), KEY), "authorised party")
    assert _check(mint(_claims(aud=[CLIENT, "other"], azp=CLIENT), KEY))


def test_expired_token_is_refused_beyond_the_leeway() -> None:
    _refused(mint(_claims(exp=int(NOW) - 61, iat=int(NOW) - 300), KEY), "expired")
    assert _check(mint(_claims(exp=int(NOW) - 30, iat=int(NOW) - 300), KEY))


def test_token_issued_in_the_future_or_long_ago_is_refused() -> None:
    _refused(mint(_claims(iat=int(NOW) + 120), KEY), "in the future")
    _refused(mint(_claims(iat=int(NOW) - 3600, exp=int(NOW) + 60), KEY), "too old")


def test_token_with_another_nonce_or_none_is_refused() -> None:
    _refused(mint(_claims(nonce="someone-elses"), KEY), "nonce")
    _refused(mint(_claims(nonce=None), KEY), "nonce")


def test_alg_none_is_refused_even_when_listed() -> None:
    token = _unsigned({"alg": "none", "kid": "k1"}, _claims())
    _refused(token, "algorithm is not allowed", rules=_rules(algorithms=("RS256", "none")))


def test_hs256_signed_with_the_public_key_is_refused() -> None:
    """The classic confusion: the provider's public key used as an HMAC secret."""
    signing_input = _unsigned({"alg": "HS256", "kid": "k1"}, _claims()).rsplit(".", 1)[0]
    for secret in (PUBLIC.as_pem(private=False), json.dumps(PUBLIC.as_dict()).encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
        _refused(token, "algorithm is not allowed", rules=_rules(algorithms=("RS256", "HS256")))


def test_algorithm_outside_the_tenants_list_is_refused() -> None:
    jwk = {k: v for k, v in KEY.as_dict(private=True).items() if k != "alg"}
    unlabelled = RSAKey.import_key(jwk)
    _refused(mint(_claims(), unlabelled, alg="RS384"), "algorithm is not allowed")


def test_tampered_signature_or_payload_is_refused() -> None:
    header, payload, signature = mint(_claims(), KEY).split(".")
    forged = _unsigned({"alg": "RS256", "kid": "k1"}, _claims(sub="admin"))
    _refused(f"{forged.rsplit('.', 1)[0]}.{signature}", "signature")
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    _refused(f"{header}.{payload}.{flipped}", "signature")


def test_token_signed_by_another_key_with_the_same_kid_is_refused() -> None:
    _refused(mint(_claims(), new_signing_key("k1")), "signature")


def test_key_of_another_type_than_the_algorithm_is_refused() -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "k1"})
    token = mint(_claims(), ec, alg="ES256")
    _refused(token, "does not fit", key=PUBLIC)
    assert _check(token, key=ECKey.import_key(ec.as_dict(private=False)))


def test_at_hash_that_does_not_match_the_access_token_is_refused() -> None:
    _refused(mint(_claims(at_hash=at_hash("another-token", "RS256")), KEY), "at_hash")
    assert _check(mint(_claims(at_hash=None), KEY))


def test_token_without_subject_kid_or_with_crit_is_refused() -> None:
    _refused(mint(_claims(sub=None), KEY), "subject")
    _refused(_unsigned({"alg": "RS256", "kid": "k1", "crit": ["b64"]}, _claims()), "critical")
    no_kid = _unsigned({"alg": "RS256"}, _claims())
    _refused(no_kid, "no signing key")


def test_malformed_token_is_refused() -> None:
    for junk in ("", "a.b", "a.b.c", "x" * 20_000, "e30.e30.", "W10.e30.x"):
        with pytest.raises(SsoRefused):
            _check(junk)


def test_pkce_challenge_is_rfc_7636_s256() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
