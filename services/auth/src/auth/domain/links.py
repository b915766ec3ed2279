"""One-time e-mail links: the proof that someone reads a mailbox.

Rules: a link carries 256 random bits, is sent only to the mailbox it was asked for, and is
stored only as a keyed hash bound to its purpose (a registration link never resets a
password); it works once — redeeming it removes every link of the same purpose for that
address — and only before it expires (a registration link after 60 minutes, a reset link after
30). Whatever a link lets its holder choose (the password of a new account, a new password) is
chosen when it is redeemed, never when it is asked for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class LinkPurpose(StrEnum):
    REGISTRATION = "registration"
    PASSWORD_RESET = "password-reset"


LINK_TTL = {
    LinkPurpose.REGISTRATION: timedelta(minutes=60),
    LinkPurpose.PASSWORD_RESET: timedelta(minutes=30),
}


@dataclass(frozen=True)
class EmailLink:
    """A link sent to ``email``; ``user_id`` names the account when one exists already."""

    token_hash: str
    purpose: LinkPurpose
    email: str
    user_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime

    def usable(self, purpose: LinkPurpose, now: datetime) -> bool:
        return self.purpose is purpose and now < self.expires_at
