"""In-memory unit of work and repositories for unit tests (same behaviour as the Pg ones).

Repositories hand out copies, so a use case that forgets ``update`` loses its change exactly as
it would against Postgres; leaving a unit of work without commit restores the previous state.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

from common.events.base import Event

from auth.domain.accounts import Account
from auth.domain.challenges import Challenge
from auth.domain.keys import SigningKey
from auth.domain.links import EmailLink, LinkPurpose
from auth.domain.lockout import FailureCount
from auth.domain.oidc import OidcClient, PendingLogin
from auth.domain.recovery import RecoveryCodes
from auth.domain.sessions import RefreshToken, Session
from auth.domain.sso import Tenant
from auth.domain.totp import TotpFactor

T = TypeVar("T")


def _c(value: T) -> T:
    return copy.deepcopy(value)


@dataclass(frozen=True)
class RecordedEvent:
    payload: Event
    subject: str


@dataclass
class MemoryState:
    accounts: dict[uuid.UUID, Account] = field(default_factory=dict)
    links: dict[str, EmailLink] = field(default_factory=dict)
    totp: dict[uuid.UUID, TotpFactor] = field(default_factory=dict)
    recovery: dict[uuid.UUID, RecoveryCodes] = field(default_factory=dict)
    challenges: dict[uuid.UUID, Challenge] = field(default_factory=dict)
    sessions: dict[uuid.UUID, Session] = field(default_factory=dict)
    refresh: dict[str, RefreshToken] = field(default_factory=dict)
    failures: dict[str, FailureCount] = field(default_factory=dict)
    rates: dict[tuple[str, str, datetime], int] = field(default_factory=dict)
    keys: dict[str, SigningKey] = field(default_factory=dict)
    tenants: dict[uuid.UUID, Tenant] = field(default_factory=dict)
    assertions: dict[str, datetime] = field(default_factory=dict)
    saml_requests: dict[str, tuple[uuid.UUID, datetime]] = field(default_factory=dict)
    oidc_clients: dict[uuid.UUID, OidcClient] = field(default_factory=dict)
    oidc_logins: dict[str, PendingLogin] = field(default_factory=dict)
    events: list[RecordedEvent] = field(default_factory=list)
    erased: set[str] = field(default_factory=set)

    def of_type(self, cls: type[Event]) -> list[Any]:
        return [e.payload for e in self.events if isinstance(e.payload, cls)]


class _Repo:
    def __init__(self, state: MemoryState) -> None:
        self.s = state


class MemoryAccounts(_Repo):
    async def get(self, user_id: uuid.UUID) -> Account | None:
        return _c(self.s.accounts.get(user_id))

    async def by_email(self, email: str) -> Account | None:
        return _c(next((a for a in self.s.accounts.values() if a.email == email), None))

    async def by_external_id(self, tenant_id: uuid.UUID, external_id: str) -> Account | None:
        found = (
            a
            for a in self.s.accounts.values()
            if a.tenant_id == tenant_id and a.external_id == external_id
        )
        return _c(next(found, None))

    async def add(self, account: Account) -> None:
        if any(a.email == account.email for a in self.s.accounts.values()):
            raise ValueError("duplicate e-mail")
        self.s.accounts[account.id] = _c(account)

    async def update(self, account: Account) -> None:
        self.s.accounts[account.id] = _c(account)

    async def delete(self, user_id: uuid.UUID) -> int:
        for token_hash in [h for h, k in self.s.links.items() if k.user_id == user_id]:
            del self.s.links[token_hash]
        return 1 if self.s.accounts.pop(user_id, None) else 0


class MemoryLinks(_Repo):
    async def add(self, link: EmailLink) -> None:
        self.s.links[link.token_hash] = link

    async def find(self, token_hash: str) -> EmailLink | None:
        return self.s.links.get(token_hash)

    async def take_all(self, purpose: LinkPurpose, email: str) -> list[EmailLink]:
        taken = [k for k in self.s.links.values() if k.purpose is purpose and k.email == email]
        for link in taken:
            del self.s.links[link.token_hash]
        return taken


class MemoryFactors(_Repo):
    async def get_totp(self, user_id: uuid.UUID) -> TotpFactor | None:
        return _c(self.s.totp.get(user_id))

    async def save_totp(self, factor: TotpFactor) -> None:
        self.s.totp[factor.user_id] = _c(factor)

    async def delete_totp(self, user_id: uuid.UUID) -> None:
        self.s.totp.pop(user_id, None)

    async def get_recovery(self, user_id: uuid.UUID) -> RecoveryCodes | None:
        return _c(self.s.recovery.get(user_id))

    async def save_recovery(self, codes: RecoveryCodes) -> None:
        self.s.recovery[codes.user_id] = _c(codes)

    async def delete_recovery(self, user_id: uuid.UUID) -> None:
        self.s.recovery.pop(user_id, None)


class MemoryChallenges(_Repo):
    async def get(self, challenge_id: uuid.UUID) -> Challenge | None:
        return _c(self.s.challenges.get(challenge_id))

    async def by_ticket(self, ticket_hash: str) -> Challenge | None:
        found = (c for c in self.s.challenges.values() if c.ticket_hash == ticket_hash)
        return _c(next(found, None))

    async def add(self, challenge: Challenge) -> None:
        self.s.challenges[challenge.id] = _c(challenge)

    async def update(self, challenge: Challenge) -> None:
        self.s.challenges[challenge.id] = _c(challenge)

    async def delete_for_user(self, user_id: uuid.UUID) -> int:
        gone = [k for k, c in self.s.challenges.items() if c.user_id == user_id]
        for k in gone:
            del self.s.challenges[k]
        return len(gone)


class MemorySessions(_Repo):
    async def get(self, session_id: uuid.UUID) -> Session | None:
        return _c(self.s.sessions.get(session_id))

    async def add(self, session: Session) -> None:
        self.s.sessions[session.id] = _c(session)

    async def update(self, session: Session) -> None:
        self.s.sessions[session.id] = _c(session)

    async def active_for_user(self, user_id: uuid.UUID) -> list[Session]:
        return [
            _c(s) for s in self.s.sessions.values() if s.user_id == user_id and s.revoked_at is None
        ]

    async def add_refresh(self, token: RefreshToken) -> None:
        self.s.refresh[token.token_hash] = _c(token)

    async def refresh_token(self, token_hash: str) -> RefreshToken | None:
        return _c(self.s.refresh.get(token_hash))

    async def update_refresh(self, token: RefreshToken) -> None:
        self.s.refresh[token.token_hash] = _c(token)

    async def delete_for_user(self, user_id: uuid.UUID) -> int:
        gone = {k for k, s in self.s.sessions.items() if s.user_id == user_id}
        for k in gone:
            del self.s.sessions[k]
        for h in [h for h, t in self.s.refresh.items() if t.session_id in gone]:
            del self.s.refresh[h]
        return len(gone)


class MemoryFailures(_Repo):
    async def get(self, key: str) -> FailureCount:
        return _c(self.s.failures.get(key) or FailureCount(key))

    async def save(self, count: FailureCount) -> None:
        self.s.failures[count.key] = _c(count)

    async def delete(self, key: str) -> None:
        self.s.failures.pop(key, None)


class MemoryRates(_Repo):
    async def hit(self, rule: str, key: str, window_start: datetime, expires_at: datetime) -> int:
        slot = (rule, key, window_start)
        self.s.rates[slot] = self.s.rates.get(slot, 0) + 1
        return self.s.rates[slot]


class MemoryKeys(_Repo):
    async def all(self) -> list[SigningKey]:
        return [_c(k) for k in self.s.keys.values()]

    async def add(self, key: SigningKey) -> None:
        self.s.keys[key.kid] = _c(key)

    async def update(self, key: SigningKey) -> None:
        self.s.keys[key.kid] = _c(key)


class MemoryTenants(_Repo):
    async def get(self, tenant_id: uuid.UUID) -> Tenant | None:
        return _c(self.s.tenants.get(tenant_id))

    async def by_slug(self, slug: str) -> Tenant | None:
        return _c(next((t for t in self.s.tenants.values() if t.slug == slug), None))

    async def add(self, tenant: Tenant) -> None:
        self.s.tenants[tenant.id] = _c(tenant)

    async def remember_assertion(self, assertion_id: str, expires_at: datetime) -> bool:
        if assertion_id in self.s.assertions:
            return False
        self.s.assertions[assertion_id] = expires_at
        return True

    async def add_request(
        self, request_id: str, tenant_id: uuid.UUID, expires_at: datetime
    ) -> None:
        self.s.saml_requests[request_id] = (tenant_id, expires_at)

    async def take_request(self, request_id: str, tenant_id: uuid.UUID, now: datetime) -> bool:
        found = self.s.saml_requests.pop(request_id, None)
        return found is not None and found[0] == tenant_id and found[1] > now


class MemoryOidc(_Repo):
    async def client(self, tenant_id: uuid.UUID) -> OidcClient | None:
        return _c(self.s.oidc_clients.get(tenant_id))

    async def save_client(self, client: OidcClient) -> None:
        self.s.oidc_clients[client.tenant_id] = _c(client)

    async def add_login(self, login: PendingLogin) -> None:
        self.s.oidc_logins[login.state_digest] = login

    async def take_login(self, state_digest: str) -> PendingLogin | None:
        return self.s.oidc_logins.pop(state_digest, None)


@dataclass(frozen=True)
class Forgotten:
    deleted: int
    pending: int


class MemoryErasure(_Repo):
    async def forget(self, user_id: str, now: datetime) -> Forgotten:
        for key in [k for k in self.s.rates if k[1] == user_id]:
            del self.s.rates[key]
        self.s.erased.add(user_id)
        return Forgotten(0, 0)


class InMemoryUnitOfWork:
    def __init__(self, state: MemoryState) -> None:
        self.state = state
        self.accounts = MemoryAccounts(state)
        self.links = MemoryLinks(state)
        self.factors = MemoryFactors(state)
        self.challenges = MemoryChallenges(state)
        self.sessions = MemorySessions(state)
        self.failures = MemoryFailures(state)
        self.rates = MemoryRates(state)
        self.keys = MemoryKeys(state)
        self.tenants = MemoryTenants(state)
        self.oidc = MemoryOidc(state)
        self.erasure = MemoryErasure(state)
        self._pending: list[RecordedEvent] = []
        self._snapshot: MemoryState | None = None

    async def __aenter__(self) -> InMemoryUnitOfWork:
        self._snapshot = copy.deepcopy(self.state)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._snapshot is not None:
            self.state.__dict__.update(self._snapshot.__dict__)
        self._pending.clear()

    def record(self, payload: Event, *, subject: str) -> RecordedEvent:
        recorded = RecordedEvent(payload, subject)
        self._pending.append(recorded)
        return recorded

    async def commit(self) -> None:
        self.state.events.extend(self._pending)
        self._pending.clear()
        self._snapshot = None


@dataclass
class InMemoryUnitOfWorkFactory:
    state: MemoryState = field(default_factory=MemoryState)

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.state)
