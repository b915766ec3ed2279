"""Unit-test wiring: auth's use cases over in-memory fakes and a controllable clock."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from auth_unit_helpers import Harness


@pytest.fixture
def h() -> Harness:
    return Harness()
