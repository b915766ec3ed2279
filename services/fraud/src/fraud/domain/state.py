"""Per-account and per-owner streaming state, kept as plain values that round-trip to a row.

Rules: state is a pure function of the activities and signals observed, in order; it is bounded
(at most ``MAX_RECENT`` recent outflows within 24 h, ``MAX_PAYEES`` payees, ``MAX_DEVICES``
devices) so a row stays small; device ids are kept only as fingerprints; only outflows feed an
account's history; replaying an account's observations in order over its snapshot gives the
same state as observing its activities.
"""

from __future__ import annotations

import hashlib
import math
from bisect import insort
from dataclasses import dataclass, field
from typing import Any

from fraud.domain.activity import Activity, SecuritySignal, SignalKind

DAY = 86_400.0
MAX_RECENT = 512
MAX_PAYEES = 256
MAX_DEVICES = 32


def fingerprint(device_id: str) -> str:
    """A stable, non-reversible stand-in for a device id."""
    return hashlib.sha256(device_id.encode()).hexdigest()[:32]


@dataclass(slots=True)
class Welford:
    """Running mean and variance (Welford's online algorithm)."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)

    @property
    def variance(self) -> float:
        return self.m2 / (self.n - 1) if self.n > 1 else 0.0

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)


@dataclass(slots=True)
class Recent:
    """One recent outflow: when, how much, and whether its time is precise."""

    ts: float
    amount: float
    precise: bool

    def __lt__(self, other: Recent) -> bool:
        return self.ts < other.ts


@dataclass(frozen=True, slots=True)
class Observation:
    """What one outflow contributes to its account's state: enough to replay it exactly."""

    ts: float
    amount: float
    precise: bool
    payee_ref: str | None
    hour: int

    @classmethod
    def of(cls, activity: Activity) -> Observation | None:
        if not activity.is_outflow:
            return None
        return cls(
            activity.timestamp,
            activity.magnitude,
            activity.precise_time,
            activity.payee_ref,
            activity.occurred_at.hour,
        )


@dataclass(slots=True)
class AccountState:
    """What the service remembers about one account's outflows."""

    account_ref: str
    amounts: Welford = field(default_factory=Welford)
    recent: list[Recent] = field(default_factory=list)
    payees: list[str] = field(default_factory=list)
    hours: list[int] = field(default_factory=lambda: [0] * 24)
    first_ts: float | None = None
    revision: int = 0

    def daily_count(self, now: float) -> float:
        """Outflows per day since the first one (at least one day of history is assumed)."""
        if self.first_ts is None:
            return 0.0
        return self.amounts.n / max(1.0, (now - self.first_ts) / DAY)

    def observe(self, activity: Activity) -> Observation | None:
        """Fold one activity into the state; return what was folded (None for a credit, which
        leaves the state unchanged)."""
        observation = Observation.of(activity)
        if observation is not None:
            self.apply(observation)
        return observation

    def apply(self, change: Observation) -> None:
        """Fold one outflow (as observed, or replayed from the account's change log)."""
        self.amounts.add(math.log1p(change.amount))
        self.first_ts = min(self.first_ts or change.ts, change.ts)
        insort(self.recent, Recent(change.ts, change.amount, change.precise))
        self._prune()
        if change.payee_ref is not None:
            self._remember_payee(change.payee_ref)
        if change.precise:
            self.hours[change.hour] += 1
        self.revision += 1

    def _prune(self) -> None:
        horizon = self.recent[-1].ts - DAY
        start = 0
        while start < len(self.recent) and self.recent[start].ts <= horizon:
            start += 1
        start = max(start, len(self.recent) - MAX_RECENT)
        if start:
            del self.recent[:start]

    def _remember_payee(self, payee_ref: str) -> None:
        if payee_ref in self.payees:
            self.payees.remove(payee_ref)
        self.payees.append(payee_ref)
        if len(self.payees) > MAX_PAYEES:
            del self.payees[0]

    def to_row(self) -> dict[str, Any]:
        return {
            "account_ref": self.account_ref,
            "amounts": [self.amounts.n, self.amounts.mean, self.amounts.m2],
            "recent": [[r.ts, r.amount, r.precise] for r in self.recent],
            "payees": list(self.payees),
            "hours": list(self.hours),
            "first_ts": self.first_ts,
            "revision": self.revision,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AccountState:
        n, mean, m2 = row["amounts"]
        return cls(
            account_ref=row["account_ref"],
            amounts=Welford(int(n), float(mean), float(m2)),
            recent=[Recent(float(t), float(a), bool(p)) for t, a, p in row["recent"]],
            payees=list(row["payees"]),
            hours=[int(h) for h in row["hours"]],
            first_ts=row["first_ts"],
            revision=int(row["revision"]),
        )


@dataclass(slots=True)
class OwnerSecurityState:
    """What the service remembers about one owner's devices and authentication factors."""

    owner_ref: str
    devices: list[str] = field(default_factory=list)
    last_new_device_at: float | None = None
    last_factor_change_at: float | None = None
    revision: int = 0

    def knows_device(self, device_id: str) -> bool:
        return fingerprint(device_id) in self.devices

    def is_new_device(self, device_id: str) -> bool:
        """A device is new when the owner already has others and this one is not among them."""
        return bool(self.devices) and not self.knows_device(device_id)

    def observe(self, signal: SecuritySignal) -> bool:
        """Fold one signal in; True when it was a login from a new device."""
        new_device = False
        when = signal.occurred_at.timestamp()
        if signal.kind is SignalKind.LOGIN and signal.device_id:
            new_device = self.is_new_device(signal.device_id)
            if new_device:
                self.last_new_device_at = max(self.last_new_device_at or when, when)
            self._remember_device(fingerprint(signal.device_id))
        elif signal.kind is SignalKind.FACTOR_CHANGED:
            self.last_factor_change_at = max(self.last_factor_change_at or when, when)
        self.revision += 1
        return new_device

    def _remember_device(self, print_: str) -> None:
        if print_ in self.devices:
            self.devices.remove(print_)
        self.devices.append(print_)
        if len(self.devices) > MAX_DEVICES:
            del self.devices[0]

    def to_row(self) -> dict[str, Any]:
        return {
            "owner_ref": self.owner_ref,
            "devices": list(self.devices),
            "last_new_device_at": self.last_new_device_at,
            "last_factor_change_at": self.last_factor_change_at,
            "revision": self.revision,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OwnerSecurityState:
        return cls(
            owner_ref=row["owner_ref"],
            devices=list(row["devices"]),
            last_new_device_at=row["last_new_device_at"],
            last_factor_change_at=row["last_factor_change_at"],
            revision=int(row["revision"]),
        )
