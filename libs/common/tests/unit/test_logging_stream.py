"""Log lines follow the current stdout, so a closed earlier stdout never breaks a later log call."""

from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from common.logging import configure_logging, get_logger

pytestmark = pytest.mark.unit


def test_lines_go_to_the_stdout_of_the_moment_not_a_closed_earlier_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    configure_logging("test", json=True)
    first.close()
    later = io.StringIO()
    monkeypatch.setattr(sys, "stdout", later)

    get_logger("t").info("payment_initiated", step=1)
    logging.getLogger("stdlib").warning("stdlib_line")

    lines = later.getvalue().splitlines()
    assert json.loads(lines[0])["event"] == "payment_initiated"
    assert "stdlib_line" in lines[1]
