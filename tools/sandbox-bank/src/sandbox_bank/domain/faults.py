"""Chaos knobs: planned faults for the next N matching responses.

Rules:
- Faults are served first-in first-out; each planned fault hits the next `count` requests whose
  path starts with its prefix (by default `/v1/`, so sandbox controls stay reliable).
- `slow` delays the request and then serves it (the bank did the work; the client gave up);
  `malformed` serves the real response with a truncated JSON body (work done, answer lost);
  `error500` / `error503` refuse before any work is done; `lost-response` does the work (a
  payment is accepted and booked) and then answers 502, as if the answer was lost on the way.
- `stuck-actc` hits no request: while it is planned, no payment moves from ACTC to ACSC; it
  stays planned until the faults are cleared.
"""

import threading
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    """What a planned fault does to a response."""

    SLOW = "slow"
    MALFORMED = "malformed"
    ERROR_500 = "error500"
    ERROR_503 = "error503"
    LOST_RESPONSE = "lost-response"
    STUCK_ACTC = "stuck-actc"


@dataclass
class Fault:
    """A planned fault and how many more requests it will hit."""

    kind: FaultKind
    remaining: int
    path_prefix: str
    delay_seconds: float
    retry_after_seconds: int | None = None


class FaultPlan:
    """The queue of planned faults (thread-safe)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        """Plan a fault behind those already planned."""
        with self._lock:
            self._faults.append(fault)

    def take(self, path: str) -> Fault | None:
        """The fault that hits a request to `path`, used up by one; None if there is none."""
        with self._lock:
            for fault in self._faults:
                if fault.kind != FaultKind.STUCK_ACTC and path.startswith(fault.path_prefix):
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def active(self, kind: FaultKind) -> bool:
        """True while a fault of this kind is planned."""
        with self._lock:
            return any(f.kind == kind for f in self._faults)

    def planned(self) -> list[Fault]:
        """Faults still planned."""
        with self._lock:
            return [Fault(**vars(f)) for f in self._faults]

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._faults.clear()
