"""Fixtures for the fraud unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fraud_builders import StepClock

from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.service.engine import Engine


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore(directory={"acct-1": "user-1", "acct-2": "user-2"})


@pytest.fixture
def uow(store: MemoryStore) -> Callable[[], MemoryUnitOfWork]:
    return lambda: MemoryUnitOfWork(store)


@pytest.fixture
def engine(clock: StepClock) -> Engine:
    counter = iter(range(1, 1_000_000))
    return Engine(clock=clock, new_id=lambda: f"id-{next(counter):06d}")
