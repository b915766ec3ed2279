"""Benign days and injected fraud patterns for the synthetic generator."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fraud.domain.activity import SignalKind
from fraud.evaluation.synthetic import PATTERNS, START, Dataset, Generator, Habits


def benign_day(g: Generator, h: Habits, day: int, second_device: str | None) -> None:
    r = g.rng
    device = second_device if second_device and r.random() < 0.5 else h.device
    for _ in range(r.randint(0, 2)):
        g.signal(h, g.moment(h, day), SignalKind.LOGIN, device)
    count = sum(1 for _ in range(6) if r.random() < h.daily_payments / 6)
    for _ in range(count):
        at = g.moment(h, day)
        g.signal(h, at - timedelta(minutes=r.uniform(1, 20)), SignalKind.LOGIN, device)
        g.signal(h, at - timedelta(seconds=20), SignalKind.STEP_UP, device)
        payee = r.choice(h.payees) if r.random() < 0.85 else _new_payee(g, h)
        amount = g.amount(h, 3.0 if r.random() < 0.03 else 1.0)
        if r.random() < 0.04 and amount > 100:
            amount = Decimal(int(amount / 100) * 100)
        g.payment(h, at, amount, payee, device)
    for _ in range(r.randint(0, 3)):
        g.transaction(h, g.moment(h, day), -g.amount(h, 0.6))


def _new_payee(g: Generator, h: Habits) -> str:
    payee = g._payee()
    h.payees.append(payee)
    return payee


def card_testing(g: Generator, h: Habits, day: int) -> None:
    r = g.rng
    at = g.moment(h, day)
    merchants = [g._payee() for _ in range(r.randint(1, 3))]
    for _ in range(r.randint(4, 12)):
        at += timedelta(seconds=r.uniform(10, 60))
        amount = Decimal(str(round(r.uniform(0.5, 3.0), 2)))
        g.payment(h, at, amount, r.choice(merchants), h.device, "card_testing")


def account_takeover(g: Generator, h: Habits, day: int) -> None:
    r = g.rng
    attacker = f"device-attacker-{g.rng.getrandbits(32):08x}"
    at = START + timedelta(days=day, hours=r.uniform(0, 24))
    g.signal(h, at, SignalKind.LOGIN, attacker)
    mule = g._payee()
    for _ in range(r.randint(1, 3)):
        at += timedelta(minutes=r.uniform(2, 12))
        g.signal(h, at - timedelta(seconds=20), SignalKind.STEP_UP, attacker)
        amount = g.amount(h, r.uniform(5, 20))
        if r.random() < 0.5:
            amount = Decimal(max(100, int(amount / 100) * 100))
        g.payment(h, at, amount, mule, attacker, "account_takeover")


def velocity_spike(g: Generator, h: Habits, day: int) -> None:
    r = g.rng
    at = g.moment(h, day)
    for _ in range(r.randint(6, 14)):
        at += timedelta(minutes=r.uniform(1, 6))
        payee = r.choice(h.payees) if r.random() < 0.4 else g._payee()
        g.payment(h, at, g.amount(h, r.uniform(0.8, 2.0)), payee, h.device, "velocity_spike")


def factor_change_payout(g: Generator, h: Habits, day: int) -> None:
    r = g.rng
    at = g.moment(h, day)
    g.signal(h, at, SignalKind.FACTOR_CHANGED, h.device)
    at += timedelta(minutes=r.uniform(5, 240))
    g.signal(h, at - timedelta(seconds=20), SignalKind.STEP_UP, h.device)
    g.payment(h, at, g.amount(h, r.uniform(4, 15)), g._payee(), h.device, "factor_change_payout")


INJECTORS = {
    "card_testing": card_testing,
    "account_takeover": account_takeover,
    "velocity_spike": velocity_spike,
    "factor_change_payout": factor_change_payout,
}


def generate(
    seed: int = 7, *, accounts: int = 200, days: int = 14, fraud_share: float = 0.12
) -> Dataset:
    """A labelled, time-ordered stream of activity for ``accounts`` over ``days``."""
    g = Generator(seed)
    owners: dict[str, str] = {}
    for index in range(accounts):
        h = g.habits(index)
        owners[h.account_ref] = h.owner_ref
        _account(g, h, days, fraud_share)
    g.events.sort(key=lambda e: e.at)
    return Dataset(seed, g.events, owners)


def _account(g: Generator, h: Habits, days: int, fraud_share: float) -> None:
    r = g.rng
    g.signal(h, START - timedelta(days=1), SignalKind.LOGIN, h.device)
    g.signal(
        h,
        START,
        SignalKind.CONSENT_GRANTED,
        consent_ref=f"consent-{h.account_ref}",
        expires_at=START + timedelta(days=r.randint(20, 120)),
    )
    second_from = r.randint(1, days - 1) if r.random() < 0.15 else None
    second = f"{h.device}-new-phone"
    for day in range(days):
        phone = second if second_from is not None and day >= second_from else None
        benign_day(g, h, day, phone)
    if r.random() < fraud_share:
        pattern = r.choice(PATTERNS)
        INJECTORS[pattern](g, h, r.randint(max(1, days // 2), days - 1))
