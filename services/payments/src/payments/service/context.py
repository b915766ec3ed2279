"""What every use case is given: ports, reference keys and the policy in force."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from common.security.stepup import StepUpVerifier

from payments.domain.events import event_key, events_for
from payments.domain.payment import Payment
from payments.domain.refs import RefKeys
from payments.service.ports import Bank, Clock, Fraud, SecretVault, Store, UnitOfWorkFactory


@dataclass(frozen=True)
class Policy:
    """The rules' numbers and the platform's own accounts (each one a setting)."""

    callback_url: str = "http://localhost:3000/payments/consent-callback"
    currencies: frozenset[str] = frozenset({"EUR"})
    max_per_payment: Decimal = Decimal("10000")
    max_per_day: Decimal = Decimal("20000")
    authorisation_window: timedelta = timedelta(minutes=5)
    state_ttl: timedelta = timedelta(minutes=15)
    consent_validity_days: int = 180
    idempotency_ttl: timedelta = timedelta(hours=48)
    idempotency_lock: timedelta = timedelta(seconds=30)
    fraud_wait: timedelta = timedelta(seconds=5)
    submit_lease: timedelta = timedelta(seconds=30)
    poll_base: timedelta = timedelta(seconds=2)
    poll_cap: timedelta = timedelta(minutes=10)
    collection_iban: str = "FR7630006000011234567890189"
    collection_name: str = "Coffre SAS collection account"
    batch_size: int = 50
    parallel_calls: int = 8


@dataclass(frozen=True)
class Context:
    uow: UnitOfWorkFactory
    bank: Bank
    vault: SecretVault
    fraud: Fraud
    stepup: StepUpVerifier
    clock: Clock
    refs: RefKeys
    policy: Policy = field(default_factory=Policy)


async def for_each(
    ctx: Context, payments: Sequence[Payment], call: Callable[[Payment], Awaitable[None]]
) -> None:
    """``call`` for every payment claimed together, ``policy.parallel_calls`` at a time: each
    payment is claimed (and leased) by this worker alone and handled by one call, so its own
    steps stay in order while the bank and vault calls of different payments overlap. Every
    call finishes before the first error (if any) is raised."""
    gate = asyncio.Semaphore(ctx.policy.parallel_calls)

    async def one(payment: Payment) -> None:
        async with gate:
            await call(payment)

    results = await asyncio.gather(*(one(p) for p in payments), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def persist_many(store: Store, payments: Sequence[Payment]) -> None:
    """``persist`` for payments already stored, set-based: one pipelined update for the rows,
    one insert for every audit entry; each payment's events recorded in its own order."""
    await store.payments.save_many(payments)
    entries = [(payment, entry) for payment in payments for entry in payment.entries]
    for payment in payments:
        payment.entries = []
    await store.audit.add([entry for _, entry in entries])
    for payment, entry in entries:
        for event in events_for(payment, entry):
            store.record(event, subject=payment.user_id, key=event_key(payment, event))


async def persist(store: Store, payment: Payment, *, new: bool = False) -> None:
    """Save the payment, its new audit entries and one event per transition (same tx)."""
    if new:
        await store.payments.add(payment)
    else:
        await store.payments.save(payment)
    entries, payment.entries = payment.entries, []
    await store.audit.add(entries)
    for entry in entries:
        for event in events_for(payment, entry):
            store.record(event, subject=payment.user_id, key=event_key(payment, event))
