"""Master key rotation: re-wrap every data key under a new master version, never the data.

Rules:
- A rotation targets one new master version; data keys are re-wrapped in batches ordered by
  key id, and each batch commits with the cursor (the last key id done), so a crash resumes
  after the last committed batch and no key is re-wrapped twice.
- Keys created during the rotation are already under the new version and are skipped.
- When no data key is left under an older version, that version is retired.
- Only one rotation runs at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum


class RotationStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Rotation:
    rotation_id: str
    to_version: int
    status: RotationStatus
    cursor: str | None
    rewrapped: int
    total: int
    started_at: datetime
    finished_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status is RotationStatus.RUNNING

    def advanced(self, cursor: str, count: int) -> Rotation:
        return replace(self, cursor=cursor, rewrapped=self.rewrapped + count)

    def finished(self, at: datetime) -> Rotation:
        return replace(self, status=RotationStatus.DONE, finished_at=at, total=self.rewrapped)

    @property
    def percent(self) -> float:
        return 100.0 if self.total == 0 else min(100.0, 100.0 * self.rewrapped / self.total)


@dataclass(frozen=True, slots=True)
class Progress:
    rotation_id: str
    to_version: int
    rewrapped: int
    total: int
    done: bool
