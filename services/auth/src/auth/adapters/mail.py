"""Mailers: a recording one for development and tests (the real one is the platform's relay)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from common.errors import CoffreError


class MailDeliveryFailed(CoffreError):
    code = "auth.mail-delivery-failed"
    status = 502
    title = "The e-mail could not be sent"


@dataclass(frozen=True)
class SentMail:
    to: str
    subject: str
    body: str


@dataclass
class RecordingMailer:
    limit: int = 1000
    messages: list[SentMail] = field(default_factory=list)

    async def send(self, to: str, subject: str, body: str) -> None:
        self.messages.append(SentMail(to, subject, body))
        del self.messages[: -self.limit]

    def last_to(self, to: str) -> SentMail | None:
        return next((m for m in reversed(self.messages) if m.to == to), None)


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
