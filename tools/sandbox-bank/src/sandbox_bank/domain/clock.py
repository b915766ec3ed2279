"""Sandbox time: wall-clock UTC plus an offset that tests may move forward, never back."""

import threading
from datetime import UTC, date, datetime, timedelta


class SandboxClock:
    """A clock whose offset only grows, so expiry and booking can be tested without waiting."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Current sandbox time (timezone-aware UTC)."""
        with self._lock:
            return datetime.now(UTC) + self._offset

    def today(self) -> date:
        """Current sandbox date (UTC)."""
        return self.now().date()

    def advance(self, seconds: float) -> datetime:
        """Move sandbox time forward by `seconds` (>= 0) and return the new time."""
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += timedelta(seconds=seconds)
        return self.now()
