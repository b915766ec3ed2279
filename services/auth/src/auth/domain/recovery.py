"""Recovery codes: ten single-use codes shown once, stored only as keyed hashes.

Rules: each code has 80 random bits (16 base32 characters, shown in groups of four); input is
compared case- and separator-insensitively; a used code is deleted; regenerating replaces all.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from dataclasses import dataclass, field

from auth.domain.codes import Pepper

COUNT = 10
PURPOSE = "recovery-code"


def _format(raw: str) -> str:
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _normalise(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def new_codes(count: int = COUNT) -> list[str]:
    return [_format(base64.b32encode(secrets.token_bytes(10)).decode()) for _ in range(count)]


@dataclass
class RecoveryCodes:
    user_id: uuid.UUID
    hashes: set[str] = field(default_factory=set)

    @classmethod
    def issue(cls, user_id: uuid.UUID, pepper: Pepper) -> tuple[RecoveryCodes, list[str]]:
        codes = new_codes()
        hashes = {pepper.digest(PURPOSE, str(user_id), _normalise(c)) for c in codes}
        return cls(user_id, hashes), codes

    def consume(self, code: str, pepper: Pepper) -> bool:
        normalised = _normalise(code)
        if len(normalised) != 16:
            return False
        digest = pepper.digest(PURPOSE, str(self.user_id), normalised)
        if digest in self.hashes:
            self.hashes.discard(digest)
            return True
        return False

    @property
    def remaining(self) -> int:
        return len(self.hashes)
