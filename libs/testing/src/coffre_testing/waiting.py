"""Waiting for an eventually-true condition in integration tests (never a bare sleep).

Rules: a test waits for a condition by polling it with a bound, never for a fixed time. Every
bound is stretched by ``COFFRE_TEST_PATIENCE`` (default 3): the bounds in the tests are what a
quiet machine needs, and a CI machine loaded by other jobs may need several times that. A wait
ends as soon as its condition holds, so the stretch costs nothing when things work; it only
makes a real failure take longer to report.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def patience() -> float:
    """The factor every bound on waiting is multiplied by (``COFFRE_TEST_PATIENCE``, ≥ 1)."""
    try:
        factor = float(os.environ.get("COFFRE_TEST_PATIENCE", "3"))
    except ValueError:
        factor = 3.0
    return max(factor, 1.0)


def patient(seconds: float) -> float:
    """A bound on waiting for something that will happen, stretched for a loaded machine."""
    return seconds * patience()


async def until(
    probe: Callable[[], Awaitable[T]],
    ok: Callable[[T], object] = bool,
    timeout: float = 20.0,
    *,
    every: float = 0.1,
) -> T:
    """Poll ``probe`` until ``ok`` holds for its value and return that value; fail after
    ``patient(timeout)`` seconds naming the last value seen."""
    loop = asyncio.get_running_loop()
    bound = patient(timeout)
    deadline = loop.time() + bound
    while True:
        value = await probe()
        if ok(value):
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {bound:g} s (last: {value!r:.300})")
        await asyncio.sleep(every)


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Poll ``check`` until it returns True; fail after ``patient(timeout)`` seconds."""
    await until(check, timeout=timeout)
