"""Unit-test wiring: use cases over the in-memory store, a fake KMS and a manual clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import ``vault_unit_helpers`` by name, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))
from vault.adapters.clock import ManualClock
from vault.adapters.memory import FakeKms, MemoryStore
from vault.bootstrap import build_context
from vault.service.context import VaultContext


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms()


@pytest.fixture
def ctx(store: MemoryStore, kms: FakeKms, clock: ManualClock) -> VaultContext:
    return build_context(store.uow, kms, clock=clock)


@pytest.fixture(autouse=True)
def _small_rsa_sealing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """RSA-2048 instead of 3072 keeps unit tests fast; the code path is the same."""
    from vault.service import sealing

    monkeypatch.setattr(sealing, "RSA_BITS", 2048)
