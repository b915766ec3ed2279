"""Erasure events: a member asks for all their data to be erased (crypto-shredding).

Rules: every topic that can carry personal data (every topic but those in
``TOPICS_WITHOUT_PERSONAL_DATA``) keeps a record at most ``PERSONAL_DATA_RETENTION``, in
segments rolled at least every ``PERSONAL_DATA_SEGMENT`` (the deployment manifests set
``retention.ms`` and ``segment.ms``; tests/deploy checks them). So an event published before an
erasure completed is gone from the broker by ``broker_retention_end(completed_at)``, which each
``ErasureCompleted`` states.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from common.events.base import Event, all_topics, event

PERSONAL_DATA_RETENTION = timedelta(days=7)
PERSONAL_DATA_SEGMENT = timedelta(days=1)
TOPICS_WITHOUT_PERSONAL_DATA = frozenset(
    {"vault.rotation-progressed.v1", "vault.master-key-retired.v1", "vault.audit-anchored.v1"}
)


def personal_data_topics() -> list[str]:
    """Every topic whose events may name or describe a member (the dead-letter topic too)."""
    return [t for t in all_topics() if t not in TOPICS_WITHOUT_PERSONAL_DATA]


def broker_retention_end(completed_at: datetime) -> datetime:
    """Until when an event published before ``completed_at`` may still sit on the broker: the
    retention, plus the segment that holds it (the broker deletes whole closed segments)."""
    return completed_at + PERSONAL_DATA_RETENTION + PERSONAL_DATA_SEGMENT


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
    events_on_broker_until: datetime | None = Field(
        None,
        description=(
            "Until when events about the member that this service published before "
            "completed_at may still be stored on the broker (topic retention plus one segment); "
            "after it, none is left. None when the service did not state it."
        ),
    )
    outbox_rows_pending: int | None = Field(
        None,
        ge=0,
        description=(
            "Outbox rows about the member not yet published at completed_at (this event among "
            "them): they are published, then deleted from the outbox."
        ),
    )
