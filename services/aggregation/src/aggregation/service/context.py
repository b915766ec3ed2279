"""What every use case is given: ports, the reference keys and the policy in force."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aggregation.domain.connections import Connection
from aggregation.domain.refs import RefKeys
from aggregation.service.ports import Agent, Clock, ConsentVault, Store, UnitOfWorkFactory


@dataclass(frozen=True)
class Policy:
    """The rules' numbers (each one a setting)."""

    callback_url: str = "http://localhost:3000/bank/callback"
    consent_validity_days: int = 180
    expiry_warning_days: int = 7
    unattended_per_day: int = 4
    member_refresh_interval: timedelta = timedelta(seconds=60)
    history_days: int = 90
    overlap_days: int = 3
    state_ttl: timedelta = timedelta(minutes=15)
    max_open_connections: int = 10
    retry_base: timedelta = timedelta(minutes=2)
    retry_cap: timedelta = timedelta(hours=2)
    claim_lease: timedelta = timedelta(minutes=10)
    batch_size: int = 50
    first_pull_lease: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class Context:
    uow: UnitOfWorkFactory
    agent: Agent
    vault: ConsentVault
    clock: Clock
    refs: RefKeys
    policy: Policy


async def save_connection(store: Store, connection: Connection) -> None:
    """Persist a connection and queue the teardowns its end produced."""
    await store.connections.save(connection)
    for teardown in connection.teardowns:
        await store.teardowns.add(teardown)
    connection.teardowns.clear()
