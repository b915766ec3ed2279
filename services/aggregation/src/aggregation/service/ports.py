"""The ports aggregation's use cases need: the PSD2 agent, the vault, storage and a clock.

Rules: the agent port speaks in minimised records (`BankTransaction` holds what we keep plus
the bank's id, which only the reference derivation sees); it raises `ConsentEnded`,
`AgentRateLimited`, `AgentUnavailable` or `AgentRefused`. The vault port raises
`VaultUnavailable` or `ConsentSecretMissing`. Only `UnitOfWork.commit` commits, and it writes
recorded events to the outbox in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from common.events import Event

from aggregation.domain.accounts import LinkedAccount
from aggregation.domain.connections import Connection, Teardown
from aggregation.domain.transactions import StoredTransaction, TxStatus


class Clock(Protocol):
    def now(self) -> datetime: ...


# --- the PSD2 agent ---------------------------------------------------------------------------


class ConsentState(StrEnum):
    RECEIVED = "received"
    VALID = "valid"
    REJECTED = "rejected"
    REVOKED_BY_PSU = "revokedByPsu"
    EXPIRED = "expired"
    TERMINATED_BY_TPP = "terminatedByTpp"
    OTHER = "other"


@dataclass(frozen=True)
class CreatedConsent:
    token: str
    sca_redirect: str

    def __repr__(self) -> str:
        return "CreatedConsent(token=***)"


@dataclass(frozen=True)
class ConsentInfo:
    state: ConsentState
    valid_until: date | None = None
    frequency_per_day: int | None = None


@dataclass(frozen=True)
class BankAccount:
    resource_id: str
    currency: str


@dataclass(frozen=True)
class BankTransaction:
    """A bank transaction after the parse dropped everything we do not keep."""

    bank_id: str
    status: TxStatus
    booking_date: date
    amount: Decimal
    currency: str
    label: str


class Agent(Protocol):
    """A PSD2 account-information agent. `member_ip` set means the member is present."""

    async def create_consent(
        self,
        *,
        psu_id: str,
        redirect_uri: str,
        nok_redirect_uri: str,
        valid_until: date,
        frequency_per_day: int,
    ) -> CreatedConsent: ...

    async def consent(self, token: str) -> ConsentInfo: ...

    async def accounts(self, token: str, member_ip: str | None) -> list[BankAccount]: ...

    async def transactions(
        self, token: str, resource_id: str, date_from: date, member_ip: str | None
    ) -> list[BankTransaction]: ...

    async def delete_consent(self, token: str) -> None: ...


# --- the vault --------------------------------------------------------------------------------


class ConsentVault(Protocol):
    """Where consent tokens live (purpose `psd2-consent`); aggregation keeps only the ref."""

    async def store(self, user_id: str, token: str) -> str: ...

    async def read(self, user_id: str, ref: str) -> str: ...

    async def delete(self, user_id: str, ref: str) -> None: ...


# --- storage ----------------------------------------------------------------------------------


class ConnectionRepository(Protocol):
    async def add(self, connection: Connection) -> None: ...

    async def save(self, connection: Connection) -> None: ...

    async def get(
        self, connection_id: uuid.UUID, *, for_update: bool = False
    ) -> Connection | None: ...

    async def by_state(self, digest: bytes) -> Connection | None:
        """The connection holding this state digest, locked; `CallbackInProgress` if busy."""
        ...

    async def of_user(self, user_id: str) -> list[Connection]: ...

    async def count_open(self, user_id: str) -> int: ...

    async def expiring(self, today: date, until: date) -> list[Connection]:
        """Active connections lapsed before `today`, or ending by `until` and not yet warned."""
        ...

    async def stale_pending(self, now: datetime) -> list[Connection]: ...

    async def delete_of_user(self, user_id: str) -> int: ...


class AccountRepository(Protocol):
    async def upsert(self, account: LinkedAccount) -> None: ...

    async def save(self, account: LinkedAccount) -> None: ...

    async def get(self, account_ref: str, *, for_update: bool = False) -> LinkedAccount | None: ...

    async def of_connection(self, connection_id: uuid.UUID) -> list[LinkedAccount]: ...

    async def of_user(self, user_id: str) -> list[LinkedAccount]: ...

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[LinkedAccount]: ...

    async def claim_never_synced(self, limit: int, lease_until: datetime) -> list[LinkedAccount]:
        """Accounts of active connections whose first pull never completed nor failed."""
        ...

    async def delete_of_user(self, user_id: str) -> int: ...


class PullLog(Protocol):
    async def recent_unattended(self, account_ref: str, since: datetime) -> list[datetime]: ...

    async def add(self, account_ref: str, user_id: str, at: datetime, attended: bool) -> None: ...

    async def delete_of_user(self, user_id: str) -> int: ...


class TransactionRepository(Protocol):
    async def lock_feed(self, user_id: str) -> int:
        """Lock the member's feed (serialising writers) and return its last version."""
        ...

    async def set_feed(self, user_id: str, version: int) -> None: ...

    async def held(self, account_ref: str, refs: Sequence[str]) -> dict[str, StoredTransaction]: ...

    async def pending_from(self, account_ref: str, since: date) -> list[StoredTransaction]: ...

    async def put_many(self, rows: Sequence[StoredTransaction]) -> None: ...

    async def changes_since(
        self, user_id: str, version: int, limit: int
    ) -> list[StoredTransaction]: ...

    async def delete_of_user(self, user_id: str) -> int: ...


class TeardownRepository(Protocol):
    async def add(self, teardown: Teardown) -> None: ...

    async def claim_due(
        self, now: datetime, limit: int, lease_until: datetime
    ) -> list[Teardown]: ...

    async def save(self, teardown: Teardown) -> None: ...

    async def delete(self, teardown_id: uuid.UUID) -> None: ...


class OutboxForgetting(Protocol):
    """How many sent outbox rows were deleted, and how many wait to be sent first."""

    @property
    def deleted(self) -> int: ...

    @property
    def pending(self) -> int: ...


class ErasureLog(Protocol):
    async def forget(
        self, user_id: str, account_refs: Sequence[str], now: datetime
    ) -> OutboxForgetting:
        """Remember the member as erased (by digest) and purge their sent outbox rows."""

    async def is_erased(self, user_id: str) -> bool: ...


class Store(Protocol):
    """The repositories of one unit of work, and the events it will publish."""

    @property
    def erasure(self) -> ErasureLog: ...

    @property
    def connections(self) -> ConnectionRepository: ...

    @property
    def accounts(self) -> AccountRepository: ...

    @property
    def pulls(self) -> PullLog: ...

    @property
    def transactions(self) -> TransactionRepository: ...

    @property
    def teardowns(self) -> TeardownRepository: ...

    def record(self, event: Event, *, subject: str, key: str | None = None) -> None: ...


class UnitOfWork(Store, Protocol):
    async def commit(self) -> None: ...


UnitOfWorkFactory = Callable[[], AbstractAsyncContextManager[UnitOfWork]]
