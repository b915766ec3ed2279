"""IBANs: shape, country length and the ISO 13616 mod-97 checksum.

Rule: an IBAN is kept only in the vault and on the wire to the bank; anything else sees a
masked form (``DE89 **** 3000``) or a keyed hash (``refs``).
"""

from __future__ import annotations

import re

from payments.domain.errors import IbanInvalid

LENGTHS: dict[str, int] = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24, "SM": 27,
    "VA": 22,
}  # fmt: skip
_SHAPE = re.compile(r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")


def normalise_iban(raw: object) -> str:
    """The IBAN without spaces, upper-cased, with a valid checksum; else ``IbanInvalid``."""
    if not isinstance(raw, str) or len(raw) > 64:
        raise IbanInvalid("IBAN must be text")
    iban = "".join(raw.split()).upper()
    if not _SHAPE.match(iban):
        raise IbanInvalid("IBAN has not the shape of an IBAN")
    expected = LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        raise IbanInvalid("IBAN has the wrong length for its country")
    if not checksum_ok(iban):
        raise IbanInvalid("IBAN checksum is wrong")
    return iban


def checksum_ok(iban: str) -> bool:
    rearranged = iban[4:] + iban[:4]
    digits = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(digits) % 97 == 1


def mask_iban(iban: str) -> str:
    return f"{iban[:4]} **** {iban[-4:]}"
