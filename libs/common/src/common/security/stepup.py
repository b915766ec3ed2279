"""Step-up authorisations: one strong-authentication code authorises exactly one operation.

Rules (dynamic linking, PSD2 SCA):
- An operation is (kind, amount, currency, payee, operation id); payee and operation id are
  printable text (no control, format or bidi-override characters that could make what the
  member reads differ from what is signed). Its digest is SHA-256 over a canonical JSON form:
  the amount as a plain decimal with no trailing zeros (``10.50`` and ``10.5`` are the same
  amount), the currency upper-cased, the payee with spaces removed and upper-cased. Auth and
  every consumer compute it with ``operation_digest`` here.
- Auth signs an authorisation (JWT, ``typ`` ``stepup+jwt``, same JWKS as access tokens) that
  carries that digest in ``opd``, the member in ``sub`` and its own id in ``jti``; it lives for
  a short time (``exp``, at most ``max_lifetime_seconds``).
- ``StepUpVerifier.verify`` checks signature, issuer, audience, expiry, the member and that the
  digest of the operation the consumer is about to run equals ``opd``. Any change of amount,
  currency, payee, kind or operation id fails.
- **Single use is the consumer's duty**: a signature cannot know it was seen before. The
  consumer records ``authorisation_id`` in the same database transaction that acts on the
  operation (a table with a primary key on it, kept at least until ``expires_at``) and refuses
  an id already recorded. ``verify_and_consume`` does both steps through an
  ``AuthorisationLedger`` port that the consumer implements on its own tables.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Literal, Protocol

from common.errors import CoffreError, Conflict, ValidationFailed
from common.security.access_tokens import (
    DEFAULT_ALGORITHMS,
    Clock,
    ExpiredToken,
    InvalidToken,
    JwksCache,
    JwtRules,
    verify_signed_jwt,
)

STEPUP_TOKEN_TYPE = "stepup+jwt"
STEPUP_AUDIENCE = "coffre-stepup"
DIGEST_VERSION = 1

OperationKind = Literal["payment", "deposit", "withdrawal"]
OPERATION_KINDS: frozenset[str] = frozenset({"payment", "deposit", "withdrawal"})


class StepUpRefused(CoffreError):
    code = "stepup.invalid"
    status = 403
    title = "The strong authentication is not valid for this operation"


class StepUpExpired(StepUpRefused):
    code = "stepup.expired"
    title = "The strong authentication has expired"


class StepUpMismatch(StepUpRefused):
    code = "stepup.operation-mismatch"
    title = "The strong authentication was given for another operation"


class StepUpReused(Conflict):
    code = "stepup.reused"
    title = "The strong authentication was already used"


class InvalidOperationDetails(ValidationFailed):
    code = "stepup.operation-invalid"
    title = "The operation details are not valid"


def _canonical_amount(amount: Decimal | str | int) -> str:
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError):
        raise InvalidOperationDetails("amount is not a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise InvalidOperationDetails("amount must be a positive number")
    text = format(value.normalize(), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _printable(text: str) -> bool:
    """No control, format (bidi overrides, zero-width), surrogate or unassigned characters."""
    return not any(unicodedata.category(ch).startswith("C") for ch in text)


@dataclass(frozen=True)
class Operation:
    """One sensitive operation a member authorises with a step-up code."""

    kind: str
    amount: Decimal | str | int
    currency: str
    payee: str
    operation_id: str

    def canonical(self) -> dict[str, str | int]:
        if self.kind not in OPERATION_KINDS:
            raise InvalidOperationDetails("unknown operation kind")
        currency = self.currency.strip().upper()
        if len(currency) != 3 or not currency.isalpha() or not currency.isascii():
            raise InvalidOperationDetails("currency must be an ISO 4217 code")
        payee = "".join(self.payee.split()).upper()
        operation_id = self.operation_id.strip()
        if not payee or len(payee) > 128 or not operation_id or len(operation_id) > 128:
            raise InvalidOperationDetails("payee and operation id are required")
        if not (_printable(payee) and _printable(operation_id)):
            raise InvalidOperationDetails("payee and operation id must be printable text")
        return {
            "v": DIGEST_VERSION,
            "kind": self.kind,
            "amount": _canonical_amount(self.amount),
            "currency": currency,
            "payee": payee,
            "operation_id": operation_id,
        }


def operation_digest(operation: Operation) -> str:
    """Base64url SHA-256 of the operation's canonical JSON form."""
    text = json.dumps(operation.canonical(), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class StepUpAuthorisation:
    """A verified step-up authorisation; record ``authorisation_id`` before acting on it."""

    authorisation_id: str
    subject: str
    operation_digest: str
    operation_kind: str
    method: str
    issued_at: datetime
    expires_at: datetime


class AuthorisationLedger(Protocol):
    """The consumer's record of authorisations already used (its own table)."""

    async def record(self, authorisation_id: str, expires_at: datetime) -> bool:
        """Record the id; return False when it was already recorded."""
        ...


class StepUpVerifier:
    """Verify locally that a step-up authorisation covers exactly one operation."""

    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str = STEPUP_AUDIENCE,
        algorithms: tuple[str, ...] = DEFAULT_ALGORITHMS,
        max_lifetime_seconds: int = 300,
        leeway_seconds: int = 0,
        clock: Clock = time.time,
    ) -> None:
        self._jwks = jwks
        self._clock = clock
        self._rules = JwtRules(
            issuer=issuer,
            audience=audience,
            token_type=STEPUP_TOKEN_TYPE,
            algorithms=algorithms,
            max_lifetime_seconds=max_lifetime_seconds,
            leeway_seconds=leeway_seconds,
        )

    async def verify(
        self, token: str, operation: Operation, *, subject: str
    ) -> StepUpAuthorisation:
        expected = operation_digest(operation)
        try:
            _, claims = await verify_signed_jwt(token, self._jwks, self._rules, self._clock())
        except ExpiredToken:
            raise StepUpExpired() from None
        except InvalidToken as exc:
            raise StepUpRefused(exc.message) from None
        if not hmac.compare_digest(str(claims.get("sub")), subject):
            raise StepUpRefused("authorisation given to another member")
        opd = claims.get("opd")
        if not isinstance(opd, str) or not hmac.compare_digest(opd, expected):
            raise StepUpMismatch()
        return StepUpAuthorisation(
            authorisation_id=claims["jti"],
            subject=claims["sub"],
            operation_digest=opd,
            operation_kind=str(claims.get("opk", operation.kind)),
            method=str(claims.get("amr", "")),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )

    async def verify_and_consume(
        self, token: str, operation: Operation, *, subject: str, ledger: AuthorisationLedger
    ) -> StepUpAuthorisation:
        """Verify, then record the id in the consumer's ledger; a second use is refused."""
        authorisation = await self.verify(token, operation, subject=subject)
        if not await ledger.record(authorisation.authorisation_id, authorisation.expires_at):
            raise StepUpReused()
        return authorisation
