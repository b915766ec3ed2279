"""Mailers: a recording one for development and tests (the real one is the platform's relay)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
