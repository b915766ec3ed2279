"""Unit-test wiring: use cases over in-memory storage and vault, the sandbox in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test modules import ``aggregation_unit_helpers`` by name, whatever pytest's import mode.
sys.path.insert(0, str(Path(__file__).parent))
from aggregation_unit_helpers import Harness


@pytest.fixture
def h() -> Harness:
    return Harness()
