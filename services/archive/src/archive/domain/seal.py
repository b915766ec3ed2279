"""What a seal verification establishes, independent of the library that checks it.

Rule: a receipt's seal is good only when the signature is intact and valid, its certificate
chains to a trusted root, it covers the whole file, it carries a timestamp, and the sealed
file's hash is the one recorded when it was sealed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SealCheck:
    """What the validator says about one sealed PDF."""

    intact: bool
    valid: bool
    trusted: bool
    covers_whole_file: bool
    signer: str
    chain: tuple[str, ...]
    signed_at: datetime | None
    timestamp_at: datetime | None
    level: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class VerificationReport:
    """The member-facing report: the validator's view plus our own recorded hash."""

    check: SealCheck
    recorded_sha256: str
    actual_sha256: str

    @property
    def hash_matches(self) -> bool:
        return self.recorded_sha256 == self.actual_sha256

    @property
    def ok(self) -> bool:
        c = self.check
        return (
            c.intact
            and c.valid
            and c.trusted
            and c.covers_whole_file
            and c.timestamp_at is not None
            and self.hash_matches
            and not c.problems
        )
