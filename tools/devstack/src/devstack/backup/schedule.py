"""The daily backup: when the next one is due, and where its outcome is recorded.

Rules:
- A backup is due once the newest successful one (the status file's, or else the newest in the
  bucket) is ``interval`` old; so restarting the dev stack neither skips a day nor backs up at
  every start. A failed attempt is retried after a backoff that doubles from one minute, never
  later than the interval.
- Every outcome is written, atomically, to ``status.json`` (last success: time, id, sizes; last
  failure: time and message) and to ``backup.prom`` in the Prometheus text format (a node
  exporter's textfile collector reads it): ``coffre_backup_last_success_timestamp_seconds``,
  ``coffre_backup_last_failure_timestamp_seconds``, ``coffre_backup_last_size_bytes``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

FIRST_RETRY = timedelta(minutes=1)
_INTERVAL = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_interval(text: str) -> timedelta:
    """``30s``, ``90m``, ``24h``, ``1d``; at least one second."""
    found = _INTERVAL.match(text.strip())
    if not found or int(found.group(1)) == 0:
        raise ValueError(f"not an interval: {text!r} (e.g. 24h, 90m, 1d)")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def next_due(
    last_success: datetime | None, failures: int, last_attempt: datetime | None, every: timedelta
) -> datetime | None:
    """When the next backup should start; None means now. ``failures`` counts the attempts
    that failed since the last success."""
    if failures and last_attempt:
        backoff: timedelta = FIRST_RETRY * (1 << min(failures - 1, 20))
        return last_attempt + min(backoff, every)
    return last_success + every if last_success else None


@dataclass
class BackupStatus:
    folder: Path

    @property
    def path(self) -> Path:
        return self.folder / "status.json"

    def read(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return loaded

    def last_success(self) -> datetime | None:
        at = self.read().get("last_success", {}).get("at")
        return datetime.fromisoformat(str(at)) if at else None

    def succeeded(self, backup_id: str, stored_bytes: int, seconds: float, schemas: int) -> None:
        status = self.read()
        status["last_success"] = {
            "at": datetime.now(UTC).isoformat(),
            "backup_id": backup_id,
            "stored_bytes": stored_bytes,
            "seconds": round(seconds, 3),
            "schemas": schemas,
        }
        self._write(status)

    def failed(self, message: str) -> None:
        status = self.read()
        status["last_failure"] = {"at": datetime.now(UTC).isoformat(), "message": message}
        self._write(status)

    def _write(self, status: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        _replace(self.path, json.dumps(status, indent=2) + "\n")
        _replace(self.folder / "backup.prom", _metrics(status))


def _stamp(entry: dict[str, Any] | None) -> float:
    return datetime.fromisoformat(entry["at"]).timestamp() if entry else 0.0


def _metrics(status: dict[str, Any]) -> str:
    success, failure = status.get("last_success"), status.get("last_failure")
    lines = []
    for name, help_text, value in (
        ("last_success_timestamp_seconds", "End of the last successful backup", _stamp(success)),
        ("last_failure_timestamp_seconds", "Time of the last failed backup", _stamp(failure)),
        ("last_size_bytes", "Stored size of the last successful backup",
         float(success["stored_bytes"]) if success else 0.0),
    ):  # fmt: skip
        lines += [
            f"# HELP coffre_backup_{name} {help_text}.",
            f"# TYPE coffre_backup_{name} gauge",
            f"coffre_backup_{name} {value:.3f}",
        ]
    return "\n".join(lines) + "\n"


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
