"""Request context carried into every use case for audit: who, from where, with what client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import TypedDict

MAX_USER_AGENT = 256


class AuditFields(TypedDict):
    actor_id: uuid.UUID | None
    ip: str | None
    user_agent: str | None


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    user_agent: str | None = None
    actor_id: uuid.UUID | None = None

    def __post_init__(self) -> None:
        if self.user_agent is not None and len(self.user_agent) > MAX_USER_AGENT:
            object.__setattr__(self, "user_agent", self.user_agent[:MAX_USER_AGENT])

    def acting(self, actor_id: uuid.UUID) -> RequestContext:
        return replace(self, actor_id=actor_id)

    def audit(self) -> AuditFields:
        """The audit fields every auth event carries."""
        return {"actor_id": self.actor_id, "ip": self.ip, "user_agent": self.user_agent}
