"""Keeping the dev stack's processes up: restart with backoff, and say so.

Rules: a supervised child that exits while the stack runs is restarted after a backoff that
doubles from ``first_delay`` up to ``max_delay`` and resets once the child has stayed up for
``stable_after`` seconds; every exit and every restart is logged with the exit code and the
attempt number; a child that fails to start is retried the same way; one child's crash never
stops the others. Stopping the supervisor stops restarts before anything is shut down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol


class Child(Protocol):
    """A process the supervisor can watch: its exit code (None while it runs)."""

    def poll(self) -> int | None: ...


@dataclass
class Supervised:
    name: str
    start: Callable[[], Child]
    after_restart: Callable[[], None] | None = None
    child: Child | None = None
    restarts: int = 0
    delay: float = 0.0
    started_at: float = 0.0
    down_since: float | None = None


@dataclass
class Supervisor:
    say: Callable[[str], None]
    first_delay: float = 0.5
    max_delay: float = 30.0
    stable_after: float = 30.0
    poll_interval: float = 0.25
    _entries: dict[str, Supervised] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def add(
        self,
        name: str,
        start: Callable[[], Child],
        *,
        child: Child | None = None,
        after_restart: Callable[[], None] | None = None,
    ) -> Child:
        """Watch ``name``; start it now unless an already running ``child`` is given."""
        entry = Supervised(name, start, after_restart, child=child or start())
        entry.started_at = time.monotonic()
        with self._lock:
            self._entries[name] = entry
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)
            self._thread.start()
        assert entry.child is not None
        return entry.child

    def child(self, name: str) -> Child | None:
        with self._lock:
            entry = self._entries.get(name)
        return entry.child if entry else None

    def restarts(self, name: str) -> int:
        with self._lock:
            return self._entries[name].restarts

    def stop(self) -> None:
        """No restart from now on (call before stopping the children)."""
        self._stopping.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=120)

    def _watch(self) -> None:
        while not self._stopping.wait(self.poll_interval):
            with self._lock:
                entries = list(self._entries.values())
            for entry in entries:
                if self._stopping.is_set():
                    return
                self._check(entry)

    def _check(self, entry: Supervised) -> None:
        now = time.monotonic()
        if entry.child is not None:
            code = entry.child.poll()
            if code is None:
                if now - entry.started_at >= self.stable_after:
                    entry.delay = 0.0
                return
            entry.child = None
            entry.down_since = now
            entry.delay = min(max(entry.delay * 2, self.first_delay), self.max_delay)
            self.say(
                f"{entry.name} exited with code {code}; restarting in {entry.delay:.1f} s "
                f"(restart {entry.restarts + 1})"
            )
        assert entry.down_since is not None
        if now - entry.down_since < entry.delay:
            return
        self._restart(entry)

    def _restart(self, entry: Supervised) -> None:
        entry.restarts += 1
        down_since = entry.down_since or time.monotonic()
        try:
            entry.child = entry.start()
        except Exception as exc:
            entry.down_since = time.monotonic()
            entry.delay = min(max(entry.delay * 2, self.first_delay), self.max_delay)
            self.say(f"{entry.name} did not start ({exc}); retrying in {entry.delay:.1f} s")
            return
        entry.started_at = time.monotonic()
        entry.down_since = None
        outage = entry.started_at - down_since
        self.say(f"{entry.name} restarted after {outage:.1f} s down (restart {entry.restarts})")
        if entry.after_restart is not None:
            try:
                entry.after_restart()
            except Exception as exc:
                self.say(f"{entry.name}: after-restart step failed: {exc}")
