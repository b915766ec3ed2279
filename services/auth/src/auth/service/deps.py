"""Everything a use case needs, wired once at start-up (tests wire fakes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from auth.domain.codes import Pepper
from auth.domain.lockout import LockoutPolicy
from auth.domain.passwords import PasswordHasher, PasswordPolicy
from auth.domain.ratelimit import RateLimits
from auth.domain.sessions import SessionPolicy
from auth.service.ports import Clock, Mailer, SmsSender, UnitOfWorkFactory
from auth.service.tokens import TokenIssuer


@dataclass(frozen=True)
class AuthPolicy:
    require_second_factor: bool = False
    login_challenge_ttl: timedelta = timedelta(minutes=5)
    stepup_challenge_ttl: timedelta = timedelta(minutes=5)
    link_base_url: str = "https://app.coffre.local"
    issuer_name: str = "Coffre"
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)
    rates: RateLimits = field(default_factory=RateLimits)
    passwords: PasswordPolicy = field(default_factory=PasswordPolicy)


@dataclass
class Deps:
    uow: UnitOfWorkFactory
    clock: Clock
    hasher: PasswordHasher
    pepper: Pepper
    sms: SmsSender
    mailer: Mailer
    tokens: TokenIssuer
    policy: AuthPolicy = field(default_factory=AuthPolicy)
