"""Shared wiring for auth's unit tests: fakes, a controllable clock and a few shortcuts."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import pyotp
from auth.adapters.clock import FakeClock
from auth.adapters.mail import RecordingMailer
from auth.adapters.memory import InMemoryUnitOfWorkFactory, MemoryState
from auth.adapters.sms import RecordingSmsSender
from auth.domain.codes import Pepper
from auth.domain.passwords import PasswordHasher
from auth.service import factors, registration
from auth.service.context import RequestContext
from auth.service.deps import AuthPolicy, Deps
from auth.service.tokens import IssuerJwksSource, TokenIssuer, TokenSettings
from common.security.access_tokens import AccessTokenVerifier, JwksCache
from common.security.stepup import StepUpVerifier

PASSWORD = "violet-harbour-tundra-42"
CTX = RequestContext(ip="203.0.113.7", user_agent="pytest/1.0")
_HASHER = PasswordHasher()


@dataclass
class Harness:
    clock: FakeClock = field(default_factory=FakeClock)
    uow: InMemoryUnitOfWorkFactory = field(default_factory=InMemoryUnitOfWorkFactory)
    sms: RecordingSmsSender = field(default_factory=RecordingSmsSender)
    mailer: RecordingMailer = field(default_factory=RecordingMailer)
    policy: AuthPolicy = field(default_factory=AuthPolicy)

    def __post_init__(self) -> None:
        self.tokens = TokenIssuer(self.uow, self.clock, TokenSettings())
        self.deps = Deps(
            uow=self.uow,
            clock=self.clock,
            hasher=_HASHER,
            pepper=Pepper(b"p" * 32),
            sms=self.sms,
            mailer=self.mailer,
            tokens=self.tokens,
            policy=self.policy,
        )
        jwks = JwksCache(IssuerJwksSource(self.tokens), clock=self.clock.timestamp)
        self.verifier = AccessTokenVerifier(
            jwks, issuer="https://auth.coffre.local", audience="coffre-api",
            clock=self.clock.timestamp,
        )  # fmt: skip
        self.stepup_verifier = StepUpVerifier(
            jwks, issuer="https://auth.coffre.local", clock=self.clock.timestamp
        )

    @property
    def state(self) -> MemoryState:
        return self.uow.state

    async def account(self, email: str = "ada@example.org", password: str = PASSWORD) -> uuid.UUID:
        """Register ``email`` the one way there is: ask for a link, redeem it with a password."""
        await registration.register(self.deps, email, CTX)
        token = self.mailer.last_link_token(email)
        return await registration.complete(self.deps, token, password, CTX)

    async def with_totp(self, user_id: uuid.UUID) -> tuple[pyotp.TOTP, list[str]]:
        enrolment = await factors.start_totp(self.deps, user_id, CTX)
        totp = pyotp.TOTP(enrolment.secret)
        codes = await factors.confirm_totp(self.deps, user_id, totp.at(self.clock.now()), CTX)
        self.clock.advance(seconds=30)
        return totp, codes

    async def with_phone(self, user_id: uuid.UUID, phone: str = "+33612345678") -> list[str]:
        challenge = await factors.start_phone(self.deps, user_id, phone, CTX)
        return await factors.confirm_phone(
            self.deps, user_id, challenge.id, self.last_code(phone), CTX
        )

    def last_code(self, phone: str = "+33612345678") -> str:
        sms = self.sms.last_to(phone)
        assert sms is not None
        found = re.search(r"\b(\d{6})\b", sms.text)
        assert found is not None
        return found.group(1)
