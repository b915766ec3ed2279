"""Use cases fed by other services' facts: auth's sign-ins and factor changes, aggregation's
consents, linked accounts and registered members (whose parked transactions are then scored).

Rules: a sign-in from a device the owner has not used before marks the owner's next payments
for one ``NEW_DEVICE_WINDOW``; a factor change marks them for a day; every signal is logged for
the weekly report; a consent is remembered until it ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from fraud.domain.activity import SecuritySignal, SignalKind
from fraud.domain.errors import OwnerMismatch
from fraud.domain.state import OwnerSecurityState
from fraud.service.engine import Engine
from fraud.service.parking import score_parked_of
from fraud.service.ports import UnitOfWork


async def record_signal(signal: SecuritySignal, uow: UnitOfWork) -> bool:
    """Fold a security signal into the owner's state; True when it was a new device."""
    async with uow:
        state = await uow.security_states.get(signal.owner_ref, for_update=True)
        state = state or OwnerSecurityState(signal.owner_ref)
        new_device = state.observe(signal)
        await uow.security_states.save(state)
        await uow.security_log.add(signal, new_device=new_device)
        if signal.kind is SignalKind.CONSENT_GRANTED and signal.consent_ref:
            await uow.consents.upsert(signal.owner_ref, signal.consent_ref, signal.expires_at)
        elif signal.kind is SignalKind.CONSENT_ENDED and signal.consent_ref:
            await uow.consents.upsert(signal.owner_ref, signal.consent_ref, None)
        await uow.commit()
    return new_device


async def record_signals(signals: Sequence[SecuritySignal], uow: UnitOfWork) -> list[bool]:
    """Fold security signals, in order, into their owners' states, as ``record_signal`` does
    one at a time, with one read, one write per table and one commit; True for each signal
    that was a new device."""
    async with uow:
        states = await uow.security_states.get_many([s.owner_ref for s in signals])
        existing = set(states)
        logged: list[tuple[SecuritySignal, bool]] = []
        consents: dict[tuple[str, str], datetime | None] = {}
        for signal in signals:
            state = states.setdefault(signal.owner_ref, OwnerSecurityState(signal.owner_ref))
            logged.append((signal, state.observe(signal)))
            if signal.consent_ref and signal.kind is SignalKind.CONSENT_GRANTED:
                consents[(signal.owner_ref, signal.consent_ref)] = signal.expires_at
            elif signal.consent_ref and signal.kind is SignalKind.CONSENT_ENDED:
                consents[(signal.owner_ref, signal.consent_ref)] = None
        await uow.security_states.save_many(list(states.values()), existing)
        await uow.security_log.add_many(logged)
        await uow.consents.upsert_many(consents)
        await uow.commit()
    return [new_device for _, new_device in logged]


async def register_member(owner_ref: str, uow: UnitOfWork, engine: Engine) -> int:
    """Remember a registered member: their new accounts are then accepted, and what was parked
    for them is scored now; returns how many parked transactions were scored."""
    async with uow:
        if not await uow.directory.is_member(owner_ref):
            await uow.directory.add_member(owner_ref)
        scored = await score_parked_of(owner_ref, uow, engine)
        await uow.commit()
    return scored


async def register_account(account_ref: str, owner_ref: str, uow: UnitOfWork) -> None:
    """Remember which owner an account belongs to; an account never changes owner."""
    async with uow:
        known = await uow.directory.owner_of(account_ref)
        if known is not None and known != owner_ref:
            raise OwnerMismatch()
        if known is None:
            await uow.directory.register(account_ref, owner_ref)
        await uow.commit()
