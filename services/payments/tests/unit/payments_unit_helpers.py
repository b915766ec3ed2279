"""Unit test wiring: payments' use cases on in-memory adapters, a settable clock, signed
step-up authorisations under a test key (no network)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from common.security.access_tokens import JwksCache, StaticJwksSource
from common.security.stepup import Operation, StepUpVerifier, operation_digest
from joserfc import jwt
from joserfc.jwk import OKPKey
from payments.adapters.memory import (
    MemoryBank,
    MemoryFraud,
    MemoryState,
    MemoryUnitOfWork,
    MemoryVault,
)
from payments.domain.refs import RefKeys
from payments.service import consents
from payments.service.context import Context, Policy
from payments.service.create import Answer, Requester, create_payment
from payments.service.drafts import PaymentInput

ISSUER = "https://auth.test"
CREDITOR = "DE89370400440532013000"
DEBTOR = "FR1420041010050500013M02606"


@dataclass
class Clock:
    at: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 9, 0, tzinfo=UTC))

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


class Harness:
    def __init__(self, **policy: Any) -> None:
        self.key = OKPKey.generate_key("Ed25519", parameters={"kid": "k1", "use": "sig"})
        jwks = JwksCache(StaticJwksSource({"keys": [self.key.as_dict(private=False)]}))
        self.state, self.bank, self.vault = MemoryState(), MemoryBank(), MemoryVault()
        self.fraud, self.clock = MemoryFraud(), Clock()
        self.ctx = Context(
            uow=lambda: MemoryUnitOfWork(self.state), bank=self.bank, vault=self.vault,
            fraud=self.fraud,
            stepup=StepUpVerifier(jwks, issuer=ISSUER, clock=lambda: self.clock.now().timestamp()),
            clock=self.clock, refs=RefKeys(b"unit-test-reference-key"), policy=Policy(**policy),
        )  # fmt: skip
        self.who = Requester(str(uuid.uuid4()), "session-1", "device-1")

    async def consent(self, approve: bool = True) -> dict[str, Any]:
        """Start a consent, approve it at the (memory) bank, come back with the state."""
        terms = consents.ConsentTerms(DEBTOR, "EUR", "500", "2000", "month", None, "psu-1")
        started = await consents.start_consent(self.ctx, self.who.user_id, terms)
        token = list(self.bank.consents)[-1]
        self.bank.consents[token] = "valid" if approve else "rejected"
        state = self.bank.redirects[-1].rsplit("state=", 1)[1]
        done = await consents.complete_callback(self.ctx, self.who.user_id, state)
        return {"account_ref": done.account_ref, "consent_id": started.consent.consent_id,
                "status": done.status.value, "token": token}  # fmt: skip

    async def create(self, consent: dict[str, Any], key: str = "k1", **changes: Any) -> Answer:
        creditor = {"name": "Camille", "iban": CREDITOR}
        body = {"kind": "payment", "account_ref": consent["account_ref"], "amount": "25.00",
                "currency": "EUR", "creditor": creditor} | changes  # fmt: skip
        given = PaymentInput(body["kind"], body["account_ref"], body["amount"], body["currency"],
                             body["creditor"]["name"], body["creditor"]["iban"], None)  # fmt: skip
        return await create_payment(self.ctx, self.who, key, body, given)

    def stepup(self, operation: dict[str, Any], subject: str | None = None) -> str:
        op = Operation(**operation)
        now = int(self.clock.now().timestamp())
        claims = {"iss": ISSUER, "aud": "coffre-stepup", "sub": subject or self.who.user_id,
                  "jti": str(uuid.uuid4()), "iat": now, "exp": now + 300,
                  "opd": operation_digest(op)}  # fmt: skip
        header = {"alg": "Ed25519", "kid": "k1", "typ": "stepup+jwt"}
        return jwt.encode(header, claims, self.key, algorithms=["Ed25519"])
