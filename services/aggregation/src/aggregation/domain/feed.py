"""The member's change feed: a cursor names a position in it.

Rules: each change to a member's transactions (add, update, removal) takes the next version of
the member's feed; a cursor is the last version a client has seen, as an opaque string. A client
that sends no cursor starts from the beginning. A cursor that does not decode is refused.
"""

from __future__ import annotations

import base64
import binascii

from aggregation.domain.errors import CursorInvalid

_PREFIX = "agg1:"
MAX_VERSION = 2**62


def encode_cursor(version: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{version}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if cursor is None or cursor == "":
        return 0
    if len(cursor) > 64:
        raise CursorInvalid("the cursor is too long")
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        version = int(text.removeprefix(_PREFIX))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorInvalid("the cursor does not come from this API") from None
    if not 0 <= version < MAX_VERSION:
        raise CursorInvalid("the cursor does not come from this API")
    return version
