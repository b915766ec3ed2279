"""The relay never lets a retried event overtake an earlier one of the same key."""

from __future__ import annotations

import pytest
from common.messaging.relay import _sent_prefix_per_key

pytestmark = pytest.mark.unit


def test_rows_after_a_failure_of_their_key_stay_unsent() -> None:
    rows = [
        {"id": 1, "message_key": "a"},
        {"id": 2, "message_key": "b"},
        {"id": 3, "message_key": "a"},
        {"id": 4, "message_key": "a"},
        {"id": 5, "message_key": "b"},
    ]
    boom = ConnectionError("broker down")
    results = [None, None, boom, None, None]
    sent, failed = _sent_prefix_per_key(rows, results)  # type: ignore[arg-type]
    assert sent == [1, 2, 5]
    assert failed == [(3, boom)]
