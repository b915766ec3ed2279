"""Kafka edge of a rebalance: the activity consumer holds its new partitions' account states.

Rules: the transactions topic is keyed by account, so an account's partition is the Kafka
default partitioner's (murmur2 of the key, modulo the topic's partitions); when partitions of
that topic are assigned, the states of the accounts keyed to them are loaded (snapshot + replay)
before the consumer fetches from them; a load that fails is logged and the states are then
loaded lazily, batch by batch, as before; a revoked partition's states stay in memory (their
heads keep them from being used once another replica changed them).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.partitioner import murmur2
from common.events.aggregation import TransactionIngested
from common.logging import get_logger

log = get_logger(__name__)

KEYED_BY_ACCOUNT = TransactionIngested.topic()


def partition_of(key: str, partitions: int) -> int:
    """The partition the Kafka default partitioner sends ``key`` to."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


class HoldAssignedAccounts(ConsumerRebalanceListener):  # type: ignore[misc]
    """Loads the states of the accounts of newly assigned partitions (see the module's rules)."""

    def __init__(
        self,
        partitions_of: Callable[[str], Awaitable[set[int]]],
        hold: Callable[[Callable[[str], bool]], Awaitable[int]],
    ) -> None:
        self._partitions_of = partitions_of
        self._hold = hold

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        return None

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        mine = {tp.partition for tp in assigned if tp.topic == KEYED_BY_ACCOUNT}
        if not mine:
            return
        started = time.perf_counter()
        try:
            count = len(await self._partitions_of(KEYED_BY_ACCOUNT))
            held = await self._hold(lambda account: partition_of(account, count) in mine)
        except Exception as exc:  # the states are then loaded batch by batch
            log.warning("account_states_not_loaded", error=type(exc).__name__)
            return
        log.info(
            "account_states_loaded",
            accounts=held,
            partitions=sorted(mine),
            seconds=round(time.perf_counter() - started, 3),
        )
