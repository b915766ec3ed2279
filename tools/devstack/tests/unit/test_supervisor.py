"""A supervised child that exits is restarted with a doubling backoff, and each exit and
restart is said; a child that cannot start is retried; stopping the supervisor stops restarts."""

from __future__ import annotations

import threading
import time

import pytest
from devstack.supervisor import Supervisor

pytestmark = pytest.mark.unit


class FakeChild:
    def __init__(self) -> None:
        self.code: int | None = None

    def poll(self) -> int | None:
        return self.code


def _until(check: object, timeout: float = 60.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_a_crashed_child_is_restarted_with_doubling_backoff_and_it_is_said() -> None:
    said: list[str] = []
    children: list[FakeChild] = []
    lock = threading.Lock()

    def start() -> FakeChild:
        with lock:
            children.append(FakeChild())
            return children[-1]

    supervisor = Supervisor(said.append, first_delay=0.05, max_delay=0.2, poll_interval=0.01)
    supervisor.add("fraud", start)
    for attempt in (1, 2, 3):
        children[-1].code = -9
        _until(lambda n=attempt: len(children) == n + 1)
    supervisor.stop()
    exits = [line for line in said if "exited with code -9" in line]
    assert [line.split("restarting in ")[1].split(" s")[0] for line in exits] == [
        "0.1",
        "0.1",
        "0.2",
    ]
    assert sum("fraud restarted after" in line for line in said) == 3


def test_a_child_that_cannot_start_is_retried_and_other_children_keep_running() -> None:
    said: list[str] = []
    attempts: list[int] = []
    healthy = FakeChild()

    def flaky() -> FakeChild:
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError("port busy")
        return FakeChild()

    supervisor = Supervisor(said.append, first_delay=0.02, max_delay=0.05, poll_interval=0.01)
    first = FakeChild()
    supervisor.add("kafka", flaky, child=first)
    supervisor.add("auth", lambda: healthy)
    first.code = 1
    _until(lambda: len(attempts) == 3)
    supervisor.stop()
    assert sum("did not start (port busy)" in line for line in said) == 2
    assert supervisor.child("auth") is healthy
    watcher = supervisor._thread
    assert watcher is not None
    assert not watcher.is_alive(), "no restart after stop"
