from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from common.events.fraud import ScoreReason, TransactionScored
from fraud.adapters.memory import MemoryStore, MemoryUnitOfWork
from fraud.domain.activity import SecuritySignal, SignalKind
from fraud.domain.errors import OwnerMismatch
from fraud.service.signals import record_signal, record_signals, register_account
from fraud_builders import T0

pytestmark = pytest.mark.unit
Uow = Callable[[], MemoryUnitOfWork]


@pytest.mark.asyncio
async def test_login_from_a_second_device_is_reported_new(store: MemoryStore, uow: Uow) -> None:
    home = SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-home")
    other = SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-other")
    assert await record_signal(home, uow()) is False
    assert await record_signal(other, uow()) is True
    assert [new for _, new in store.signals] == [False, True]
    assert store.owners["user-1"]["last_new_device_at"] == T0.timestamp()


@pytest.mark.asyncio
async def test_a_batch_of_signals_folds_like_the_same_signals_one_at_a_time() -> None:
    later = T0 + timedelta(minutes=5)
    signals = [
        SecuritySignal(SignalKind.LOGIN, "user-1", T0, device_id="device-home"),
        SecuritySignal(SignalKind.LOGIN, "user-2", T0, device_id="device-home"),
        SecuritySignal(SignalKind.LOGIN, "user-1", later, device_id="device-other"),
        SecuritySignal(SignalKind.FACTOR_CHANGED, "user-1", later),
        SecuritySignal(SignalKind.LOGIN, "user-1", later, device_id="device-other"),
        SecuritySignal(
            SignalKind.CONSENT_GRANTED, "user-2", T0, consent_ref="c-1", expires_at=later
        ),
        SecuritySignal(SignalKind.CONSENT_ENDED, "user-2", later, consent_ref="c-1"),
    ]
    one_at_a_time, batched = MemoryStore(), MemoryStore()
    singles = [await record_signal(s, MemoryUnitOfWork(one_at_a_time)) for s in signals]
    assert await record_signals(signals, MemoryUnitOfWork(batched)) == singles
    assert singles == [False, False, True, False, False, False, False]
    assert batched.owners == one_at_a_time.owners
    assert batched.signals == one_at_a_time.signals
    assert batched.consents == one_at_a_time.consents == {("user-2", "c-1"): None}


@pytest.mark.asyncio
async def test_account_never_changes_owner(store: MemoryStore, uow: Uow) -> None:
    await register_account("acct-5", "user-5", uow())
    await register_account("acct-5", "user-5", uow())
    with pytest.raises(OwnerMismatch):
        await register_account("acct-5", "user-6", uow())
    assert store.directory["acct-5"] == "user-5"


def test_scored_event_refuses_a_score_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="less than or equal to 1"):
        TransactionScored(
            score_id="s",
            kind="payment",
            activity_ref="p",
            account_ref="a",
            score=1.5,
            decision="block",
            reasons=(ScoreReason(code="c", feature="f", value=1, contribution=1),),
            model_version=0,
            scored_at=T0,
        )


def test_event_topics_carry_their_version() -> None:
    assert TransactionScored.topic() == "fraud.transaction-scored.v1"
