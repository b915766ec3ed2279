"""common.security.stepup: operation digest and local verification of step-up authorisations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from auth.domain.keys import SigningKey
from auth.service.stepup import display_payee
from common.security.access_tokens import JwksCache, StaticJwksSource
from common.security.stepup import (
    InvalidOperationDetails,
    Operation,
    StepUpExpired,
    StepUpMismatch,
    StepUpRefused,
    StepUpReused,
    StepUpVerifier,
    operation_digest,
)
from joserfc import jwt

pytestmark = pytest.mark.unit

ISS = "https://auth.test"
OP = Operation("payment", "125.50", "EUR", "FR76 3000 6000 0112 3456 7890 189", "pay-1")
USER = str(uuid.uuid4())


class Clock:
    t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


def _token(key: SigningKey, now: float, op: Operation = OP, **over: Any) -> str:
    claims = {
        "iss": ISS, "aud": "coffre-stepup", "sub": USER, "iat": int(now),
        "exp": int(now) + 120, "jti": str(uuid.uuid4()), "opd": operation_digest(op),
        "opk": op.kind, "amr": "sms",
    }  # fmt: skip
    claims.update(over)
    head = {"alg": "Ed25519", "kid": key.kid, "typ": over.pop("typ", "stepup+jwt")}
    return jwt.encode(head, claims, key.private_key(), algorithms=["Ed25519"])


@pytest.fixture
def kit() -> tuple[SigningKey, Clock, StepUpVerifier]:
    key = SigningKey.generate(datetime.now(UTC))
    clock = Clock()
    jwks = JwksCache(StaticJwksSource({"keys": [key.public_jwk()]}), clock=clock)
    return key, clock, StepUpVerifier(jwks, issuer=ISS, clock=clock)


def test_digest_ignores_formatting_of_amount_currency_and_payee() -> None:
    same = Operation("payment", Decimal("125.5"), "eur", "fr7630006000011234567890189", "pay-1")
    assert operation_digest(same) == operation_digest(OP)


@pytest.mark.parametrize(
    "changed",
    [
        Operation("payment", "125.51", "EUR", OP.payee, "pay-1"),
        Operation("payment", "125.50", "USD", OP.payee, "pay-1"),
        Operation("payment", "125.50", "EUR", "FR7630006000011234567890188", "pay-1"),
        Operation("withdrawal", "125.50", "EUR", OP.payee, "pay-1"),
        Operation("payment", "125.50", "EUR", OP.payee, "pay-2"),
    ],
)
def test_any_change_of_the_operation_changes_the_digest(changed: Operation) -> None:
    assert operation_digest(changed) != operation_digest(OP)


@pytest.mark.parametrize(
    "bad",
    [
        Operation("transfer", "1", "EUR", "x", "o"),
        Operation("payment", "-1", "EUR", "x", "o"),
        Operation("payment", "0", "EUR", "x", "o"),
        Operation("payment", "NaN", "EUR", "x", "o"),
        Operation("payment", "ten", "EUR", "x", "o"),
        Operation("payment", "1", "EURO", "x", "o"),
        Operation("payment", "1", "EUR", " ", "o"),
        Operation("payment", "1", "EUR", "x", ""),
        Operation("payment", "1", "EUR", "x\x00y", "o"),
        Operation("payment", "1", "EUR", "ACME\u202eEVIL", "o"),
        Operation("payment", "1", "EUR", "x", "o\u200b"),
        Operation("payment", "1", "EUR", "x", "o\x1b[2J"),
    ],
)
def test_malformed_operations_are_refused(bad: Operation) -> None:
    with pytest.raises(InvalidOperationDetails):
        operation_digest(bad)


@pytest.mark.asyncio
async def test_authorisation_for_this_operation_is_accepted(kit: Any) -> None:
    key, clock, verifier = kit
    auth = await verifier.verify(_token(key, clock.t), OP, subject=USER)
    assert auth.subject == USER
    assert auth.operation_kind == "payment"
    assert auth.method == "sms"


@pytest.mark.asyncio
async def test_authorisation_for_another_amount_is_refused(kit: Any) -> None:
    key, clock, verifier = kit
    other = Operation("payment", "999.00", "EUR", OP.payee, "pay-1")
    with pytest.raises(StepUpMismatch):
        await verifier.verify(_token(key, clock.t), other, subject=USER)


@pytest.mark.asyncio
async def test_authorisation_for_another_payee_is_refused(kit: Any) -> None:
    key, clock, verifier = kit
    other = Operation("payment", "125.50", "EUR", "DE89370400440532013000", "pay-1")
    with pytest.raises(StepUpMismatch):
        await verifier.verify(_token(key, clock.t), other, subject=USER)


@pytest.mark.asyncio
async def test_authorisation_of_another_member_is_refused(kit: Any) -> None:
    key, clock, verifier = kit
    with pytest.raises(StepUpRefused):
        await verifier.verify(_token(key, clock.t), OP, subject=str(uuid.uuid4()))


@pytest.mark.asyncio
async def test_expired_authorisation_is_refused(kit: Any) -> None:
    key, clock, verifier = kit
    token = _token(key, clock.t)
    clock.t += 121
    with pytest.raises(StepUpExpired):
        await verifier.verify(token, OP, subject=USER)


@pytest.mark.asyncio
async def test_access_token_cannot_stand_in_for_an_authorisation(kit: Any) -> None:
    key, clock, verifier = kit
    with pytest.raises(StepUpRefused):
        await verifier.verify(_token(key, clock.t, typ="at+jwt"), OP, subject=USER)


@pytest.mark.asyncio
async def test_authorisation_signed_by_a_stranger_is_refused(kit: Any) -> None:
    _, clock, verifier = kit
    stranger = SigningKey.generate(datetime.now(UTC))
    with pytest.raises(StepUpRefused):
        await verifier.verify(_token(stranger, clock.t), OP, subject=USER)


@pytest.mark.asyncio
async def test_second_use_is_refused_by_the_consumers_ledger(kit: Any) -> None:
    key, clock, verifier = kit

    class Ledger:
        def __init__(self) -> None:
            self.seen: set[str] = set()

        async def record(self, authorisation_id: str, expires_at: datetime) -> bool:
            if authorisation_id in self.seen:
                return False
            self.seen.add(authorisation_id)
            return True

    ledger, token = Ledger(), _token(key, clock.t)
    await verifier.verify_and_consume(token, OP, subject=USER, ledger=ledger)
    with pytest.raises(StepUpReused):
        await verifier.verify_and_consume(token, OP, subject=USER, ledger=ledger)


@pytest.mark.parametrize(
    ("payee", "shown"),
    [
        ("FR76 3000 6000 0112 3456 7890 189", "FR76…0189"),
        ("fr7630006000011234567890189", "FR76…0189"),
        ("IBAN: FR76 3000 6000 0112 3456 7890 189 (rent)", "FR76…0189"),
        ("  Boulangerie   du  Coin ", "Boulangerie du Coin"),
    ],
)
def test_payee_is_shown_and_stored_without_a_full_account_number(payee: str, shown: str) -> None:
    assert display_payee(payee) == shown
