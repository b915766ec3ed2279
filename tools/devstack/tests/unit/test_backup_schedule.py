"""The daily schedule: when a backup is due, and what an operator or an alert can read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from devstack.backup.schedule import BackupStatus, next_due, parse_interval

pytestmark = pytest.mark.unit

DAY = timedelta(hours=24)
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_intervals_read_like_durations() -> None:
    assert parse_interval("24h") == DAY
    assert parse_interval("1d") == DAY
    assert parse_interval("90m") == timedelta(minutes=90)
    for bad in ("", "0h", "24", "1w", "-1h", "1.5h"):
        with pytest.raises(ValueError, match="not an interval"):
            parse_interval(bad)


def test_first_backup_runs_at_once_then_one_interval_after_the_last_success() -> None:
    assert next_due(None, 0, None, DAY) is None
    assert next_due(T0, 0, None, DAY) == T0 + DAY


def test_a_failed_backup_is_retried_with_a_doubling_backoff_capped_by_the_interval() -> None:
    attempt = T0 + DAY
    assert next_due(T0, 1, attempt, DAY) == attempt + timedelta(minutes=1)
    assert next_due(T0, 3, attempt, DAY) == attempt + timedelta(minutes=4)
    assert next_due(T0, 40, attempt, DAY) == attempt + DAY


def test_status_file_and_metric_record_success_and_failure(tmp_path: Path) -> None:
    status = BackupStatus(tmp_path / "backup")
    assert status.last_success() is None
    status.failed("the object store is unreachable (EndpointConnectionError)")
    status.succeeded("20261201T020000Z-1a2b3c4d", 1234, 1.5, 6)
    success = status.last_success()
    assert success is not None
    assert abs((datetime.now(UTC) - success).total_seconds()) < 60
    read = status.read()
    assert read["last_success"]["backup_id"] == "20261201T020000Z-1a2b3c4d"
    assert "unreachable" in read["last_failure"]["message"]
    metrics = (tmp_path / "backup" / "backup.prom").read_text()
    assert "# TYPE coffre_backup_last_success_timestamp_seconds gauge" in metrics
    assert f"coffre_backup_last_success_timestamp_seconds {success.timestamp():.3f}" in metrics
    assert "coffre_backup_last_size_bytes 1234.000" in metrics
