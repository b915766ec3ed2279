"""Fixtures for the fraud unit tests."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import fraud_builders (importlib mode)

from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.service.engine import Engine
from fraud_builders import StepClock


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
