"""Holding the states of the accounts a replica has just been given, before their events come.

Rules: when partitions of the transactions topic are assigned to this replica, the committed
state (snapshot + replayed changes) of the accounts keyed to them is read in one go and held in
memory (the most recently active first, as many as the cache keeps), so the first batch after a
rebalance does not stop to rebuild each account; a state held here is still only used when its
head is the committed one under the account's lock (another replica may have changed the
account since), and a copy the replica already holds at a newer revision is kept; redelivered
events are absorbed by the inbox as always.
"""

from __future__ import annotations

from collections.abc import Callable

from fraud.service.engine import Engine
from fraud.service.ports import StateLoader

CHUNK = 1_000


async def hold_owned(loader: StateLoader, owns: Callable[[str], bool], engine: Engine) -> int:
    """Load and hold the committed state of every account ``owns`` selects; returns how many
    states were taken into memory."""
    held = 0
    for committed in await loader.owned(owns, CHUNK, engine.states.capacity):
        if engine.states.hold(committed):
            held += 1
    return held
