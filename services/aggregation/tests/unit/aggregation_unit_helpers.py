"""A unit-test harness: aggregation's use cases against in-memory storage, an in-memory vault
and the real sandbox bank running in-process (ASGI, no network) on aggregation's clock."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from aggregation.adapters.berlin_group import BerlinGroupAgent, RetryPolicy
from aggregation.adapters.clock import ManualClock
from aggregation.adapters.memory import MemoryState, MemoryUnitOfWorkFactory
from aggregation.adapters.memory_vault import InMemoryConsentVault
from aggregation.domain.refs import RefKeys
from aggregation.service import connections
from aggregation.service.connections import ConnectionView, StartedConnection
from aggregation.service.context import Context, Policy
from aggregation.service.ports import CreatedConsent
from coffre_testing.waiting import patient
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.domain.clock import SandboxClock
from sandbox_bank.testing import BASE_URL

CALLBACK = "https://app.coffre.test/bank/callback"
MEMBER_IP = "198.51.100.7"


class SharedClock(SandboxClock):
    """The sandbox reads aggregation's manual clock, so both agree on 'today'."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__()
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()

    def advance(self, seconds: float) -> datetime:
        return self._clock.advance(timedelta(seconds=seconds))


AGENT_TIMEOUT = patient(10.0)
"""Generous: an in-process bank call on a loaded machine can take seconds; a test of the slow
fault passes its own short timeout and a fault delay far beyond it."""


async def no_sleep(_: float) -> None:
    return None


class Harness:
    def __init__(
        self, *, page_size: int = 40, agent_timeout: float = AGENT_TIMEOUT, **policy: Any
    ) -> None:
        self.clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        settings = SandboxSettings(page_size=page_size, fault_delay_seconds=2.0)
        self.sandbox = create_app(settings, clock=SharedClock(self.clock))
        transport = httpx.ASGITransport(app=self.sandbox)
        self.bank = httpx.AsyncClient(transport=transport, base_url=BASE_URL)
        self.agent = BerlinGroupAgent(
            httpx.AsyncClient(transport=transport, base_url=BASE_URL),
            RetryPolicy(attempts=3, base_delay=0.0, timeout=agent_timeout),
            sleep=no_sleep,
        )
        self.redirects: list[str] = []
        create = self.agent.create_consent

        async def spy(**kwargs: Any) -> CreatedConsent:
            self.redirects.append(kwargs["redirect_uri"])
            return await create(**kwargs)

        self.agent.create_consent = spy  # type: ignore[method-assign]
        self.vault = InMemoryConsentVault()
        self.state = MemoryState()
        self.ctx = Context(
            uow=MemoryUnitOfWorkFactory(self.state),
            agent=self.agent,
            vault=self.vault,
            clock=self.clock,
            refs=RefKeys(b"unit-test-reference-key-32-bytes"),
            policy=Policy(callback_url=CALLBACK, **policy),
        )

    @staticmethod
    def user() -> str:
        return str(uuid.uuid4())

    async def start(self, user_id: str) -> tuple[StartedConnection, str]:
        """Start a connection; return it and the state the bank will hand back."""
        started = await connections.start_connection(self.ctx, user_id)
        return started, parse_qs(urlsplit(self.redirects[-1]).query)["state"][0]

    async def start_and_approve(self, user_id: str, *, approve: bool = True) -> str:
        """Start a connection and play the member at the bank; return the callback state."""
        started, state = await self.start(user_id)
        path = urlsplit(started.redirect_url).path
        decision = {} if approve else {"decision": "deny"}
        answer = await self.bank.get(path, params=decision)
        assert answer.status_code == 302, answer.text
        back = urlsplit(answer.headers["location"])
        assert back.geturl().startswith(CALLBACK)
        assert parse_qs(back.query)["state"] == [state]
        return state

    async def connect(self, user_id: str) -> ConnectionView:
        state = await self.start_and_approve(user_id)
        return await connections.complete_callback(self.ctx, user_id, state, MEMBER_IP)

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.bank.request(method, path, **kwargs)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None

    async def fault(self, kind: str, count: int = 1, **extra: Any) -> None:
        await self.control("POST", "/sandbox/faults", json={"kind": kind, "count": count, **extra})

    def advance(self, **delta: float) -> None:
        self.clock.advance(timedelta(**delta))
