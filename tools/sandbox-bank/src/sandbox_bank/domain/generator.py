"""Seeded, deterministic data for each PSU.

Rules:
- Randomness comes from SHA-256 of (seed, PSU id, ...), never from Python's per-process `hash`,
  so the same seed and PSU id give the same accounts and history for the same sandbox date.
- Each PSU has one or two accounts (a current account, sometimes a joint account).
- History spreads over `days` days back from today: card spending every day, salary, rent and
  subscriptions monthly. Card payments of today (and some of yesterday) are still pending.
- Drafts come out in booking order (pending last), so running balances read naturally.
"""

import functools
import hashlib
import random
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sandbox_bank.domain import merchants as cat
from sandbox_bank.domain.model import Account, TransactionDraft


def seeded_random(*parts: object) -> random.Random:
    """A generator seeded by SHA-256 of the parts (stable across processes)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(digest, "big"))


def iban_from_bban(country: str, bban: str) -> str:
    """An IBAN with valid ISO 13616 check digits (mod 97)."""
    numeric = "".join(str(int(ch, 36)) for ch in bban + country + "00")
    return f"{country}{98 - int(numeric) % 97:02d}{bban}"


def make_iban(rng: random.Random) -> str:
    """A French IBAN at the fictional bank code 99999, with a valid RIB key."""
    bank, branch, number = "99999", f"{rng.randrange(10**5):05d}", f"{rng.randrange(10**11):011d}"
    key = 97 - (89 * int(bank) + 15 * int(branch) + 3 * int(number)) % 97
    return iban_from_bban("FR", f"{bank}{branch}{number}{key:02d}")


@functools.cache
def counterparty_iban(name: str) -> str:
    """A stable IBAN for a merchant, employer or landlord."""
    return make_iban(seeded_random("counterparty", name))


def amount_between(rng: random.Random, low: Decimal, high: Decimal) -> Decimal:
    """A positive amount in cents between low and high."""
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def _ref(rng: random.Random, prefix: str) -> str:
    return f"{prefix}{rng.getrandbits(60):015X}"


@dataclass(frozen=True)
class Profile:
    """A PSU's life: who pays them, whom they pay monthly, and their name."""

    owner: str
    employer: str
    salary: Decimal
    salary_day: int
    landlord: str
    rent: Decimal
    rent_day: int
    subscriptions: tuple[cat.Subscription, ...]


def make_profile(rng: random.Random) -> Profile:
    """Draw a PSU's profile."""
    return Profile(
        owner=f"{rng.choice(cat.FIRST_NAMES)} {rng.choice(cat.LAST_NAMES)}",
        employer=rng.choice(cat.EMPLOYERS),
        salary=amount_between(rng, Decimal(2100), Decimal(4200)),
        salary_day=rng.randint(25, 28),
        landlord=rng.choice(cat.LANDLORDS),
        rent=amount_between(rng, Decimal(620), Decimal(1450)),
        rent_day=rng.randint(1, 5),
        subscriptions=tuple(rng.sample(cat.SUBSCRIPTIONS, rng.randint(2, 5))),
    )


def make_accounts(rng: random.Random, psu_id: str, profile: Profile) -> list[Account]:
    """One current account, and a joint account for about four PSUs in ten."""
    names = ["Compte courant"] + (["Compte joint"] if rng.random() < 0.4 else [])
    return [
        Account(
            resource_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            psu_id=psu_id,
            iban=make_iban(rng),
            currency="EUR",
            name=name,
            product="Compte de depot" if name == "Compte courant" else "Compte joint",
            owner_name=profile.owner,
            balance=amount_between(rng, Decimal(300), Decimal(6000)),
        )
        for name in names
    ]


def history(
    rng: random.Random, profile: Profile, *, primary: bool, today: date, days: int
) -> list[TransactionDraft]:
    """An account's history over `days` days; the primary account gets salary and debits."""
    drafts: list[TransactionDraft] = []
    for offset in range(days, -1, -1):
        day = today - timedelta(days=offset)
        drafts.extend(_monthly(rng, profile, day, primary=primary))
        count = rng.choices((0, 1, 2, 3, 4), weights=(3, 4, 3, 2, 1))[0]
        if day == today:
            count = max(count, 1)
        elif not primary:
            count //= 2
        drafts.extend(card_payment(rng, day, today) for _ in range(count))
    return _in_booking_order(drafts)


def volume(rng: random.Random, today: date, days: int, count: int) -> list[TransactionDraft]:
    """`count` extra booked transactions spread over the last `days` days (for benchmarks)."""
    drafts = []
    for _ in range(count):
        day = today - timedelta(days=rng.randrange(1, days + 1))
        drafts.append(card_payment(rng, day, today) if rng.random() < 0.9 else _gift(rng, day))
    return _in_booking_order(drafts)


def card_payment(rng: random.Random, day: date, today: date) -> TransactionDraft:
    """A card payment at a weighted-random merchant; today's (and some of yesterday's) pend."""
    merchant = rng.choices(cat.CARD_MERCHANTS, weights=[m.weight for m in cat.CARD_MERCHANTS])[0]
    pending = day == today or (day == today - timedelta(days=1) and rng.random() < 0.5)
    booking = None if pending else min(day + timedelta(days=rng.choice((0, 1, 1, 2))), today)
    return TransactionDraft(
        amount=-amount_between(rng, merchant.low, merchant.high),
        counterparty_name=merchant.name,
        counterparty_iban=counterparty_iban(merchant.name),
        remittance=f"CB {merchant.name.upper()} {day:%d/%m} {merchant.city}",
        bank_transaction_code=cat.CARD_CODE,
        value_date=day,
        booking_date=booking,
    )


def _monthly(
    rng: random.Random, profile: Profile, day: date, *, primary: bool
) -> list[TransactionDraft]:
    drafts = []
    if primary and day.day == profile.salary_day:
        salary = profile.salary + amount_between(rng, Decimal(0), Decimal(150))
        label = f"VIR SEPA {profile.employer.upper()} SALAIRE {day:%m/%Y}"
        drafts.append(_transfer(rng, day, salary, profile.employer, label, cat.CREDIT_IN_CODE))
    if day.day == profile.rent_day and primary:
        label = f"VIR PERMANENT LOYER {day:%m/%Y}"
        drafts.append(
            _transfer(rng, day, -profile.rent, profile.landlord, label, cat.CREDIT_OUT_CODE)
        )
    if not primary and day.day == 2:
        top_up = amount_between(rng, Decimal(400), Decimal(900))
        label = f"VIR {profile.owner.upper()} ALIMENTATION COMPTE JOINT"
        drafts.append(_transfer(rng, day, top_up, profile.owner, label, cat.CREDIT_IN_CODE))
    if primary:
        drafts.extend(
            _debit(rng, s, day, profile) for s in profile.subscriptions if s.day == day.day
        )
    return drafts


def _transfer(
    rng: random.Random, day: date, amount: Decimal, party: str, label: str, code: str
) -> TransactionDraft:
    return TransactionDraft(
        amount=amount,
        counterparty_name=party,
        counterparty_iban=counterparty_iban(party),
        remittance=label,
        bank_transaction_code=code,
        value_date=day,
        booking_date=day,
        end_to_end_id=_ref(rng, "E2E"),
    )


def _debit(
    rng: random.Random, sub: cat.Subscription, day: date, profile: Profile
) -> TransactionDraft:
    return TransactionDraft(
        amount=-sub.amount,
        counterparty_name=sub.name,
        counterparty_iban=counterparty_iban(sub.name),
        remittance=f"PRLV SEPA {sub.name.upper()}",
        bank_transaction_code=cat.DIRECT_DEBIT_CODE,
        value_date=day,
        booking_date=day,
        end_to_end_id=_ref(rng, "E2E"),
        mandate_id=f"MNDT{hashlib.sha256(f'{profile.owner}{sub.name}'.encode()).hexdigest()[:12]}",
    )


def _gift(rng: random.Random, day: date) -> TransactionDraft:
    friend = f"{rng.choice(cat.FIRST_NAMES)} {rng.choice(cat.LAST_NAMES)}"
    amount = amount_between(rng, Decimal(5), Decimal(80))
    label = f"VIR INST {friend.upper()} REMBOURSEMENT"
    return _transfer(rng, day, amount, friend, label, cat.CREDIT_IN_CODE)


def _in_booking_order(drafts: list[TransactionDraft]) -> list[TransactionDraft]:
    return sorted(drafts, key=lambda d: (d.booking_date is None, d.booking_date or d.value_date))
