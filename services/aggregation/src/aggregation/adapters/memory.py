"""In-memory storage for unit tests: the same contracts as the Pg repositories.

Rules: a unit of work works on a copy of the state and swaps it in on commit, so leaving
without commit changes nothing and publishes nothing; reads return copies, so a change counts
only once it is saved.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType

from common.events import Event

from aggregation.adapters.memory_erasure import MemoryErasure
from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.connections import Connection, ConnectionStatus, Teardown
from aggregation.domain.transactions import StoredTransaction, TxStatus


@dataclass
class MemoryState:
    connections: dict[uuid.UUID, Connection] = field(default_factory=dict)
    accounts: dict[str, LinkedAccount] = field(default_factory=dict)
    pulls: list[tuple[str, str, datetime, bool]] = field(default_factory=list)
    transactions: dict[str, StoredTransaction] = field(default_factory=dict)
    feeds: dict[str, int] = field(default_factory=dict)
    teardowns: dict[uuid.UUID, Teardown] = field(default_factory=dict)
    erased: set[str] = field(default_factory=set)
    published: list[tuple[Event, str, str]] = field(default_factory=list)

    def snapshot(self) -> MemoryState:
        return copy.deepcopy(replace(self, published=[]))

    def events(self, kind: type[Event] | None = None) -> list[Event]:
        return [e for e, _, _ in self.published if kind is None or isinstance(e, kind)]


class _Connections:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def add(self, connection: Connection) -> None:
        self.s.connections[connection.connection_id] = copy.deepcopy(connection)

    async def save(self, connection: Connection) -> None:
        stored = copy.deepcopy(connection)
        stored.teardowns = []
        self.s.connections[connection.connection_id] = stored

    async def get(self, connection_id: uuid.UUID, *, for_update: bool = False) -> Connection | None:
        return copy.deepcopy(self.s.connections.get(connection_id))

    async def by_state(self, digest: bytes) -> Connection | None:
        found = [c for c in self.s.connections.values() if c.state_digest == digest]
        return copy.deepcopy(found[0]) if found else None

    async def of_user(self, user_id: str) -> list[Connection]:
        return [copy.deepcopy(c) for c in self.s.connections.values() if c.user_id == user_id]

    async def count_open(self, user_id: str) -> int:
        live = (ConnectionStatus.PENDING, ConnectionStatus.ACTIVE)
        return sum(
            1 for c in self.s.connections.values() if c.user_id == user_id and c.status in live
        )

    async def expiring(self, today: date, until: date) -> list[Connection]:
        return [
            copy.deepcopy(c)
            for c in self.s.connections.values()
            if c.is_active
            and (end := c.consent_valid_until) is not None
            and (end < today or (end <= until and c.expiry_warned_at is None))
        ]

    async def stale_pending(self, now: datetime) -> list[Connection]:
        return [
            copy.deepcopy(c)
            for c in self.s.connections.values()
            if c.status is ConnectionStatus.PENDING and c.state_expires_at <= now
        ]

    async def delete_of_user(self, user_id: str) -> int:
        gone = [k for k, c in self.s.connections.items() if c.user_id == user_id]
        for key in gone:
            del self.s.connections[key]
        return len(gone)


class _Accounts:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def upsert(self, account: LinkedAccount) -> None:
        held = self.s.accounts.get(account.account_ref)
        if held is None:
            self.s.accounts[account.account_ref] = copy.deepcopy(account)
        else:
            held.connection_id = account.connection_id
            held.resource_id = account.resource_id
            held.currency = account.currency

    async def save(self, account: LinkedAccount) -> None:
        self.s.accounts[account.account_ref] = copy.deepcopy(account)

    async def get(self, account_ref: str, *, for_update: bool = False) -> LinkedAccount | None:
        return copy.deepcopy(self.s.accounts.get(account_ref))

    async def of_connection(self, connection_id: uuid.UUID) -> list[LinkedAccount]:
        found = [a for a in self.s.accounts.values() if a.connection_id == connection_id]
        return copy.deepcopy(sorted(found, key=lambda a: a.account_ref))

    async def of_user(self, user_id: str) -> list[LinkedAccount]:
        found = [a for a in self.s.accounts.values() if a.user_id == user_id]
        return copy.deepcopy(sorted(found, key=lambda a: a.account_ref))

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[LinkedAccount]:
        due = [
            a
            for a in sorted(self.s.accounts.values(), key=lambda a: a.next_sync_at)
            if a.next_sync_at <= now
            and (c := self.s.connections.get(a.connection_id)) is not None
            and c.is_active
        ][:limit]
        claimed = copy.deepcopy(due)
        for account in due:
            account.next_sync_at = lease_until
        return claimed

    async def claim_never_synced(self, limit: int, lease_until: datetime) -> list[LinkedAccount]:
        never = [
            a
            for a in sorted(self.s.accounts.values(), key=lambda a: a.account_ref)
            if a.synced_through is None
            and a.failures == 0
            and (c := self.s.connections.get(a.connection_id)) is not None
            and c.is_active
        ][:limit]
        claimed = copy.deepcopy(never)
        for account in never:
            account.next_sync_at = lease_until
        return claimed

    async def delete_of_user(self, user_id: str) -> int:
        gone = [k for k, a in self.s.accounts.items() if a.user_id == user_id]
        for key in gone:
            del self.s.accounts[key]
        return len(gone)


class _Pulls:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def recent_unattended(self, account_ref: str, since: datetime) -> list[datetime]:
        return [
            at
            for ref, _, at, attended in self.s.pulls
            if ref == account_ref and not attended and at > since
        ]

    async def add(self, account_ref: str, user_id: str, at: datetime, attended: bool) -> None:
        self.s.pulls.append((account_ref, user_id, at, attended))

    async def delete_of_user(self, user_id: str) -> int:
        before = len(self.s.pulls)
        self.s.pulls = [p for p in self.s.pulls if p[1] != user_id]
        return before - len(self.s.pulls)


class _Transactions:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def lock_feed(self, user_id: str) -> int:
        return self.s.feeds.setdefault(user_id, 0)

    async def set_feed(self, user_id: str, version: int) -> None:
        self.s.feeds[user_id] = version

    async def held(self, account_ref: str, refs: Sequence[str]) -> dict[str, StoredTransaction]:
        rows = (self.s.transactions.get(ref) for ref in refs)
        return {
            r.transaction_ref: r for r in rows if r is not None and r.account_ref == account_ref
        }

    async def pending_from(self, account_ref: str, since: date) -> list[StoredTransaction]:
        return [
            r
            for r in self.s.transactions.values()
            if r.account_ref == account_ref
            and not r.removed
            and r.facts.status is TxStatus.PENDING
            and r.facts.booking_date >= since
        ]

    async def put_many(self, rows: Sequence[StoredTransaction]) -> None:
        for row in rows:
            self.s.transactions[row.transaction_ref] = row

    async def changes_since(
        self, user_id: str, version: int, limit: int
    ) -> list[StoredTransaction]:
        rows = [
            r for r in self.s.transactions.values() if r.user_id == user_id and r.version > version
        ]
        return sorted(rows, key=lambda r: r.version)[:limit]

    async def delete_of_user(self, user_id: str) -> int:
        gone = [k for k, r in self.s.transactions.items() if r.user_id == user_id]
        for key in gone:
            del self.s.transactions[key]
        self.s.feeds.pop(user_id, None)
        return len(gone)


class _Teardowns:
    def __init__(self, s: MemoryState) -> None:
        self.s = s

    async def add(self, teardown: Teardown) -> None:
        self.s.teardowns[teardown.teardown_id] = teardown

    async def claim_due(self, now: datetime, limit: int, lease_until: datetime) -> list[Teardown]:
        due = [
            t
            for t in self.s.teardowns.values()
            if t.next_attempt_at is None or t.next_attempt_at <= now
        ]
        claimed = due[:limit]
        for t in claimed:
            self.s.teardowns[t.teardown_id] = replace(t, next_attempt_at=lease_until)
        return claimed

    async def save(self, teardown: Teardown) -> None:
        self.s.teardowns[teardown.teardown_id] = teardown

    async def delete(self, teardown_id: uuid.UUID) -> None:
        self.s.teardowns.pop(teardown_id, None)


class MemoryStore:
    """Repositories over a state, recording events (the consumer-side view: no commit)."""

    def __init__(self, state: MemoryState) -> None:
        self._bind(state)
        self.recorded: list[tuple[Event, str, str]] = []

    def _bind(self, state: MemoryState) -> None:
        self.state = state
        self.connections = _Connections(state)
        self.accounts = _Accounts(state)
        self.pulls = _Pulls(state)
        self.transactions = _Transactions(state)
        self.teardowns = _Teardowns(state)
        self.erasure = MemoryErasure(state)

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None:
        self.recorded.append((event, subject, key or subject))


class MemoryUnitOfWork(MemoryStore):
    def __init__(self, state: MemoryState) -> None:
        self._origin = state
        super().__init__(state.snapshot())
        self.committed = False

    async def __aenter__(self) -> MemoryUnitOfWork:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.recorded.clear()

    async def commit(self) -> None:
        names = ("connections", "accounts", "pulls", "transactions", "feeds", "teardowns", "erased")
        for name in names:
            setattr(self._origin, name, getattr(self.state, name))
        self._origin.published.extend(self.recorded)
        self.recorded = []
        self._bind(self._origin.snapshot())
        self.committed = True


class MemoryUnitOfWorkFactory:
    def __init__(self, state: MemoryState | None = None) -> None:
        self.state = state or MemoryState()

    def __call__(self) -> MemoryUnitOfWork:
        return MemoryUnitOfWork(self.state)
