"""Fixtures for the sandbox bank's unit tests: a fresh in-memory bank per test, over ASGI."""

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio
from sandbox_bank import SandboxSettings, create_app
from sandbox_bank.testing import sandbox_client


@pytest_asyncio.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with sandbox_client(create_app(SandboxSettings(seed=7))) as c:
        yield c
