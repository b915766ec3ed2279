"""SMS senders: a recording one for development and tests, an HTTP provider adapter.

Rules: no sender logs a message text (it holds a code); the recording sender keeps messages in
memory only, and the HTTP edge exposes them only in development mode; the HTTP sender sends a
JSON body with a bearer API key over TLS and treats any non-2xx answer as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from common.errors import CoffreError
from common.logging import get_logger

log = get_logger(__name__)


class SmsDeliveryFailed(CoffreError):
    code = "auth.sms-delivery-failed"
    status = 502
    title = "The text message could not be sent"


@dataclass(frozen=True)
class SentSms:
    phone: str
    text: str
    sent_at: datetime


@dataclass
class RecordingSmsSender:
    """Keeps the last messages in memory (development and tests only)."""

    limit: int = 1000
    messages: list[SentSms] = field(default_factory=list)

    async def send(self, phone: str, text: str) -> None:
        self.messages.append(SentSms(phone, text, datetime.now(UTC)))
        del self.messages[: -self.limit]
        log.info("sms_recorded", phone_suffix=phone[-2:])

    def last_to(self, phone: str) -> SentSms | None:
        return next((m for m in reversed(self.messages) if m.phone == phone), None)


@dataclass
class HttpSmsSender:
    """POST ``{"to": ..., "text": ...}`` to a provider's endpoint with a bearer API key."""

    url: str
    api_key: str
    sender_id: str = "Coffre"
    client: httpx.AsyncClient | None = None
    timeout_seconds: float = 5.0

    async def send(self, phone: str, text: str) -> None:
        body = {"to": phone, "from": self.sender_id, "text": text}
        headers = {"Authorization": f"Bearer {self.api_key}"}
        try:
            if self.client is not None:
                response = await self.client.post(
                    self.url, json=body, headers=headers, timeout=self.timeout_seconds
                )
            else:
                async with httpx.AsyncClient(timeout=self.timeout_seconds) as client:
                    response = await client.post(self.url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("sms_delivery_failed", error=type(exc).__name__)
            raise SmsDeliveryFailed() from None
        if not response.is_success:
            log.warning("sms_delivery_failed", status_code=response.status_code)
            raise SmsDeliveryFailed()
        log.info("sms_sent", phone_suffix=phone[-2:])
