"""Password policy and argon2id hashing.

Rules: a password has at least 12 characters (after NFKC normalisation) and at most 128; it is
not a common or breached-style password (zxcvbn's 30,000 leaked passwords plus the shipped
list in ``data/common-passwords.txt``, also after undoing leetspeak and stripping leading or
trailing digits and symbols); it does not contain the member's e-mail name; zxcvbn rates it at
least 3/4. Hashes are argon2id with at least OWASP's parameters (19 MiB, t=2, p=1); a hash made
with weaker or different parameters is re-hashed at the next successful login.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import zxcvbn
from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from auth.domain.errors import WeakPassword

MIN_LENGTH = 12
MAX_LENGTH = 128
ZXCVBN_MAX = 72
LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
EDGE_CHARS = "0123456789!?.,;:-_*#+=~&%^()[]{}<>/\\|'\"` "


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Leaked and locale-common passwords, lower-cased."""
    shipped = resources.files("auth.domain.data").joinpath("common-passwords.txt")
    extra = (line.strip().lower() for line in shipped.read_text("utf-8").splitlines())
    words = [*FREQUENCY_LISTS["passwords"], *(w for w in extra if w and not w.startswith("#"))]
    return frozenset(words)


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def _variants(password: str) -> set[str]:
    lowered = password.lower()
    variants = {lowered, lowered.translate(LEET)}
    for word in list(variants):
        variants.add(word.strip(EDGE_CHARS))
        variants.add("".join(word.split()))
    return {v for v in variants if len(v) >= 4}


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = MIN_LENGTH
    max_length: int = MAX_LENGTH
    min_score: int = 3

    def check(self, password: str, context: Iterable[str] = ()) -> None:
        """Raise WeakPassword naming the broken rules; never echoes the password."""
        reasons = self.problems(password, context)
        if reasons:
            raise WeakPassword(
                "the password does not meet the policy: " + ", ".join(reasons), reasons=reasons
            )

    def problems(self, password: str, context: Iterable[str] = ()) -> list[str]:
        text = normalise(password)
        if len(text) < self.min_length:
            return ["too-short"]
        if len(text) > self.max_length:
            return ["too-long"]
        reasons: list[str] = []
        if _variants(text) & common_passwords():
            reasons.append("common")
        hints = [h.lower() for h in context if h and len(h) >= 3]
        if any(h in text.lower() for h in hints):
            reasons.append("contains-personal-data")
        if not reasons and zxcvbn.zxcvbn(text[:ZXCVBN_MAX], user_inputs=hints)["score"] < (
            self.min_score
        ):
            reasons.append("too-guessable")
        return reasons


@dataclass(frozen=True)
class Argon2Parameters:
    """argon2id cost; the floor is OWASP's recommendation (19 MiB, t=2, p=1)."""

    memory_kib: int = 19_456
    time_cost: int = 2
    parallelism: int = 1

    def __post_init__(self) -> None:
        if self.memory_kib < 19_456 or self.time_cost < 2 or self.parallelism < 1:
            raise ValueError("argon2id parameters below the OWASP floor (19 MiB, t=2, p=1)")


class PasswordHasher:
    """argon2id hashes in PHC string form (salt and parameters inside the string)."""

    def __init__(self, parameters: Argon2Parameters | None = None) -> None:
        self.parameters = parameters or Argon2Parameters()
        self._argon = _Argon2(
            time_cost=self.parameters.time_cost,
            memory_cost=self.parameters.memory_kib,
            parallelism=self.parameters.parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy: str | None = None

    def hash(self, password: str) -> str:
        return self._argon.hash(normalise(password))

    def verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon.verify(password_hash, normalise(password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._argon.check_needs_rehash(password_hash)
        except (InvalidHashError, ValueError):
            return True

    def burn(self, password: str) -> None:
        """Spend the time of one verification (unknown account: same timing, same answer)."""
        if self._dummy is None:
            self._dummy = self._argon.hash("coffre-dummy-password-for-timing")
        self.verify(self._dummy, password)
