"""Linked bank accounts and their sync cursor.

Rules: an account is known by its opaque reference; the bank's resource id is kept only to
address the agent and is never published. Each account has its own cursor: the last day a
complete read covered. The next read starts `overlap` days before it (late bookings, clock
skew between us and the bank); the very first read goes back `history` days.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta


@dataclass
class LinkedAccount:
    account_ref: str
    user_id: str
    connection_id: uuid.UUID
    resource_id: str
    currency: str
    next_sync_at: datetime
    synced_through: date | None = None
    last_synced_at: datetime | None = None
    failures: int = 0

    def read_from(self, today: date, *, overlap_days: int, history_days: int) -> date:
        if self.synced_through is None:
            return today - timedelta(days=history_days)
        return min(self.synced_through, today) - timedelta(days=overlap_days)

    def synced(self, now: datetime, through: date, next_sync_at: datetime) -> None:
        self.synced_through = through
        self.last_synced_at = now
        self.failures = 0
        self.next_sync_at = next_sync_at

    def failed(self, next_sync_at: datetime) -> None:
        self.failures += 1
        self.next_sync_at = next_sync_at
