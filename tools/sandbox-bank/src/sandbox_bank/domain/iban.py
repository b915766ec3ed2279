"""IBAN checks (ISO 13616): structure and the mod-97 check digits.

Rules: spaces are ignored and letters are upper-cased; a valid IBAN is two letters (country),
two check digits and up to 30 alphanumeric characters, 15 to 34 in all, whose rearranged
numeric form is 1 modulo 97.
"""

import re

_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}")


def normalise(iban: str) -> str:
    """The IBAN without spaces, upper-cased."""
    return iban.replace(" ", "").upper()


def is_valid(iban: str) -> bool:
    """True when the IBAN has the ISO 13616 shape and its check digits are right."""
    value = normalise(iban)
    if not _SHAPE.fullmatch(value):
        return False
    rearranged = value[4:] + value[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
