"""E-mail forwarding rules: who may send, what a message may carry, and the SMTP answers.

Rules:
- A member's receipts address is `<token>@<domain>` with an unguessable token (130 bits);
  mail to any other address is refused (550 5.1.1), as is mail to more than one member.
- The sender (envelope and `From:` header) must be one of that member's verified addresses
  (550 5.7.1).
- Each attachment becomes a receipt; a message without one becomes a receipt of its body.
  Archives, nested messages and too many attachments are refused (554 5.6.1 / 552 5.3.4); so
  is any attachment that is not an acceptable receipt (554 5.6.0, with the reason).
- Temporary trouble (the vault down) is a 451 4.3.0 so the sending server retries later.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

TOKEN_PREFIX = "r-"
_TOKEN = re.compile(r"^r-[a-z2-7]{26}$")
ARCHIVE_TYPES = frozenset(
    {
        "application/zip",
        "application/x-zip-compressed",
        "application/x-7z-compressed",
        "application/x-rar-compressed",
        "application/vnd.rar",
        "application/gzip",
        "application/x-gzip",
        "application/x-tar",
        "application/x-bzip2",
        "message/rfc822",
    }
)
ARCHIVE_SUFFIXES = (".zip", ".7z", ".rar", ".gz", ".tgz", ".tar", ".bz2", ".eml")


def new_token() -> str:
    """An unguessable local part: 26 base32 characters (130 random bits)."""
    import base64

    return TOKEN_PREFIX + base64.b32encode(secrets.token_bytes(17)).decode()[:26].lower()


def token_of(address: str, domain: str) -> str | None:
    """The token in `address` when it is a well-formed receipts address of our domain."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower() != domain.lower():
        return None
    local = local.lower()
    return local if _TOKEN.fullmatch(local) else None


def normalise_address(address: str) -> str:
    return address.strip().strip("<>").lower()


def is_archive(content_type: str, filename: str | None) -> bool:
    name = (filename or "").lower()
    return content_type.lower() in ARCHIVE_TYPES or name.endswith(ARCHIVE_SUFFIXES)


@dataclass(frozen=True)
class MailRefused(Exception):
    """An SMTP refusal: reply code, enhanced status and a short human reason."""

    code: int
    status: str
    reason: str

    @property
    def reply(self) -> str:
        return f"{self.code} {self.status} {self.reason}"


UNKNOWN_RECIPIENT = MailRefused(550, "5.1.1", "No such receipts mailbox")
SENDER_NOT_ALLOWED = MailRefused(550, "5.7.1", "Sender is not a verified address of this member")
ONE_MEMBER_ONLY = MailRefused(452, "4.5.3", "One receipts mailbox per message")
TOO_MANY_ATTACHMENTS = MailRefused(552, "5.3.4", "Too many attachments")
NESTED_ARCHIVE = MailRefused(554, "5.6.1", "Archives and attached messages are not accepted")
TRY_LATER = MailRefused(451, "4.3.0", "Temporarily unable to accept receipts, try again later")
