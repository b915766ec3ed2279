from __future__ import annotations

import pytest
from auth_unit_helpers import Harness


@pytest.fixture
def h() -> Harness:
    return Harness()
