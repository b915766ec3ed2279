"""Erasure events: a member asks for all their data to be erased (crypto-shredding)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from common.events.base import Event, event


@event("erasure.erasure-requested", 1)
class ErasureRequested(Event):
    """A member's account deletion was requested; every service erases its part."""

    user_id: str = Field(description="Opaque id of the member to erase.")
    requested_at: datetime = Field(description="When the member asked.")
    request_id: str = Field(description="Id of the erasure request, shared by every part.")


@event("erasure.erasure-completed", 1)
class ErasureCompleted(Event):
    """One service's part of an erasure is done, with its proof."""

    user_id: str = Field(description="Opaque id of the erased member.")
    request_id: str = Field(description="Id of the erasure request this part answers.")
    service: str = Field(description="The service whose part this is.")
    completed_at: datetime = Field(description="When this part finished.")
    proof: dict[str, str | int | list[str]] = Field(
        default_factory=dict,
        description="What was destroyed: key ids, row counts, audit chain position.",
    )
