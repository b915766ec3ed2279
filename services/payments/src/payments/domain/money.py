"""Amounts and currencies.

Rules: an amount is a ``Decimal`` in the currency's major unit with no more decimals than its
minor unit allows (EUR: 2, so ``10.001`` is refused); it is finite, positive and below a
ceiling that no legitimate payment reaches. A currency is an ISO 4217 code in the table
below (unknown codes are refused); only the configured currencies are offered (SEPA: EUR).
Input is a decimal string (or a JSON integer / number read exactly); NaN, infinities,
exponents and signs other than none are refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from payments.domain.errors import AmountInvalid, CurrencyNotSupported, CurrencyUnknown

MINOR_UNITS: dict[str, int] = {
    "EUR": 2, "USD": 2, "GBP": 2, "CHF": 2, "SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2,
    "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "ISK": 0, "JPY": 0, "CAD": 2, "AUD": 2,
    "NZD": 2, "CNY": 2, "HKD": 2, "SGD": 2, "INR": 2, "BRL": 2, "MXN": 2, "ZAR": 2,
    "TRY": 2, "KRW": 0, "AED": 2, "SAR": 2, "ILS": 2, "KWD": 3, "BHD": 3, "TND": 3,
}  # fmt: skip
MAX_AMOUNT = Decimal("1000000000")
_DECIMAL = re.compile(r"^[0-9]{1,18}(\.[0-9]{1,18})?$")


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def text(self) -> str:
        """The amount as a plain decimal string with the currency's decimals ('12.50')."""
        places = MINOR_UNITS[self.currency]
        return f"{self.amount:.{places}f}"

    def minor(self) -> int:
        return int(self.amount.scaleb(MINOR_UNITS[self.currency]))


def parse_currency(raw: object, supported: frozenset[str]) -> str:
    if not isinstance(raw, str) or raw.strip().upper() not in MINOR_UNITS:
        raise CurrencyUnknown("currency is not a known ISO 4217 code")
    code = raw.strip().upper()
    if code not in supported:
        raise CurrencyNotSupported(f"payments in {code} are not offered", currency=code)
    return code


def parse_amount(raw: object, currency: str) -> Money:
    """A positive amount with at most the currency's decimals, or ``AmountInvalid``."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise AmountInvalid("amount must be a decimal string")
    text = repr(raw) if isinstance(raw, float) else str(raw).strip()
    if not _DECIMAL.match(text):
        raise AmountInvalid("amount must be a plain positive decimal such as '12.50'")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise AmountInvalid("amount must be a decimal number") from None
    if not value.is_finite() or value <= 0:
        raise AmountInvalid("amount must be greater than zero")
    if value >= MAX_AMOUNT:
        raise AmountInvalid("amount is too large")
    places = MINOR_UNITS[currency]
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise AmountInvalid(f"{currency} amounts have at most {places} decimals", decimals=places)
    return Money(value.quantize(Decimal(1).scaleb(-places)), currency)
