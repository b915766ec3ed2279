"""Mailers: a recording one for development and tests (the real one is the platform's relay)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx
from common.errors import CoffreError


class MailDeliveryFailed(CoffreError):
    code = "auth.mail-delivery-failed"
    status = 502
    title = "The e-mail could not be sent"


LINK_TOKEN = re.compile(r"#token=([A-Za-z0-9_-]+)")


def link_token(body: str) -> str | None:
    """The one-time token of the link an e-mail carries (what the member's app reads)."""
    found = LINK_TOKEN.search(body)
    return found.group(1) if found else None


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    body: str

    @property
    def link_token(self) -> str | None:
        return link_token(self.body)


@dataclass
class RecordingMailer:
    limit: int = 1000
    messages: list[SentMail] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str) -> None:
        self.messages.append(SentMail(to, subject, body))
        del self.messages[: -self.limit]

    def last_to(self, to: str) -> SentMail | None:
        return next((m for m in reversed(self.messages) if m.to == to), None)

    def last_link_token(self, to: str) -> str:
        """The token of the newest e-mailed link to ``to`` (development and tests only)."""
        tokens = (m.link_token for m in reversed(self.messages) if m.to == to)
        found = next((t for t in tokens if t), None)
        if found is None:
            raise LookupError("no link was e-mailed to this address")
        return found


@dataclass
class HttpMailer:
    """POST ``{"to", "subject", "text"}`` to the platform's mail relay with a bearer API key."""

    url: str
    api_key: str
    timeout_seconds: float = 5.0

    async def send(self, to: str, subject: str, body: str) -> None:
        payload = {"to": to, "subject": subject, "text": body}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError:
            raise MailDeliveryFailed() from None
        if not response.is_success:
            raise MailDeliveryFailed()
