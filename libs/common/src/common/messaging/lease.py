"""Outbox relay leadership: a lease with a generation number, renewed on a held connection.

Rules:
- At most one relay per schema holds the lease. Taking it (free, expired, or already ours)
  increments its generation; a relay that finds it held by another stays a standby.
- The lease expires ``ttl`` seconds after its last renewal (Postgres clock). The holder treats it
  as lost earlier, ``ttl`` minus a margin after it *sent* the renewal (its own monotonic clock),
  and stops publishing then even if it cannot reach Postgres: by the time another replica can
  take the lease, the old leader has already stopped.
- Marking rows sent checks the generation in the same statement (``FENCED_MARK_SENT``): a relay
  whose lease was taken over marks nothing, and learns it lost leadership.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

ACQUIRE = (
    "INSERT INTO outbox_relay_lease AS l (holder, generation, expires_at) "
    "VALUES ($1, 1, now() + make_interval(secs => $2)) "
    "ON CONFLICT (singleton) DO UPDATE SET holder = EXCLUDED.holder, "
    "generation = l.generation + 1, expires_at = EXCLUDED.expires_at "
    "WHERE l.expires_at < now() OR l.holder = EXCLUDED.holder "
    "RETURNING generation"
)
RENEW = (
    "UPDATE outbox_relay_lease SET expires_at = now() + make_interval(secs => $2) "
    "WHERE generation = $1 AND expires_at > now() RETURNING generation"
)
RELEASE = "UPDATE outbox_relay_lease SET expires_at = now() WHERE generation = $1"
FENCED_MARK_SENT = (
    "UPDATE outbox SET sent_at = now(), attempts = attempts + 1 "
    "FROM outbox_relay_lease l WHERE outbox.id = ANY($1::bigint[]) "
    "AND l.generation = $2 AND l.expires_at > now()"
)
SAFETY_MARGIN = 0.2


class LeadershipLost(Exception):
    """The lease was taken over, expired, or cannot be renewed: stop publishing now."""


@dataclass
class Lease:
    """A lease this relay holds, valid (by its own clock) until ``valid_until``."""

    holder: str
    generation: int
    ttl: float
    valid_until: float
    renew_at: float

    @classmethod
    async def acquire(cls, conn: asyncpg.Connection, holder: str, ttl: float) -> Lease | None:
        """Take the lease if it is free, expired or already ours; None while another holds it."""
        asked = time.monotonic()
        generation = await conn.fetchval(ACQUIRE, holder, ttl)
        if generation is None:
            return None
        return cls(holder, generation, ttl, *_deadlines(asked, ttl))

    def check(self) -> None:
        """Raise LeadershipLost once the lease may have expired (by this relay's clock)."""
        if time.monotonic() >= self.valid_until:
            raise LeadershipLost(f"lease generation {self.generation} expired")

    async def keep(self, conn: asyncpg.Connection) -> None:
        """Renew the lease when a third of it has gone by; raise LeadershipLost if it was lost."""
        self.check()
        if time.monotonic() < self.renew_at:
            return
        asked = time.monotonic()
        try:
            renewed = await conn.fetchval(RENEW, self.generation, self.ttl)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise LeadershipLost(f"lease renewal failed: {type(exc).__name__}") from exc
        if renewed is None:
            raise LeadershipLost(f"lease generation {self.generation} was taken over")
        self.valid_until, self.renew_at = _deadlines(asked, self.ttl)

    async def mark_sent(self, conn: asyncpg.Connection, ids: list[int]) -> None:
        """Mark acknowledged rows sent, only while this generation still holds the lease."""
        self.check()
        try:
            status = await conn.execute(FENCED_MARK_SENT, ids, self.generation)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise LeadershipLost(f"marking rows sent failed: {type(exc).__name__}") from exc
        if ids and status == "UPDATE 0":
            raise LeadershipLost(f"lease generation {self.generation} is fenced off")

    async def release(self, conn: asyncpg.Connection) -> None:
        """Let another replica lead at once (a clean stop)."""
        await conn.execute(RELEASE, self.generation)


def _deadlines(asked: float, ttl: float) -> tuple[float, float]:
    return asked + ttl * (1 - SAFETY_MARGIN), asked + ttl / 3
