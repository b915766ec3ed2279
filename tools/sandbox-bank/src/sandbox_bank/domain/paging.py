"""Page tokens for `_links.next`.

Rules: a token names the seq to resume after and is bound, by an HMAC under a key that lives
only in this process, to the consent, account and query it continues. A client cannot forge
one (to dodge the unattended-access count, which only first pages pay) nor reuse it for
another query; a bad token is a FORMAT_ERROR.
"""

import base64
import binascii
import hashlib
import hmac
import secrets

from sandbox_bank.domain.errors import FormatError


class PageTokens:
    """Issues and checks page tokens."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)

    def issue(self, after: int, scope: str) -> str:
        """A token resuming after `after` within `scope` (consent, account and query)."""
        raw = f"{after}.{self._mac(after, scope)}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, token: str, scope: str) -> int:
        """The seq a token resumes after; FORMAT_ERROR if it is not ours for this scope."""
        try:
            padded = token + "=" * (-len(token) % 4)
            after_text, mac = base64.urlsafe_b64decode(padded).decode().split(".", 1)
            after = int(after_text)
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise FormatError("page is not a page token issued for this query") from exc
        if after < 0 or not hmac.compare_digest(mac, self._mac(after, scope)):
            raise FormatError("page is not a page token issued for this query")
        return after

    def _mac(self, after: int, scope: str) -> str:
        message = f"{after}|{scope}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]
