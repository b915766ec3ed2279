"""A minimal service built the way every Coffre service is, used to prove the backbone.

It records notes over HTTP (state + ``example.note-recorded`` event in one unit of work) and
counts them in a consumer (effect + inbox row in one unit of work).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from common.db import MigrationSet, UnitOfWork
from common.errors import EventRejected
from common.events import Envelope, Event, event
from common.http import create_service_app, get_runtime
from common.logging import get_logger
from common.messaging import BatchHandler, Received, subscribe
from common.runtime import Runtime
from common.settings import ServiceSettings
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

log = get_logger(__name__)
MIGRATIONS = Path(__file__).parent / "migrations"


@event("example.note-recorded", 1)
class NoteRecorded(Event):
    note_id: int = Field(description="Row id of the note.")
    owner: str = Field(description="Who wrote it.")
    seq: int = Field(description="Sequence number within the owner.")
    text: str = Field(description="The note.")


class NoteIn(BaseModel):
    owner: str = Field(min_length=1, max_length=64)
    seq: int = 0
    text: str = Field(min_length=1, max_length=2000)
    fail_before_commit: bool = False


class ExampleSettings(ServiceSettings):
    service_name: str = "example"


async def record_note(uow: UnitOfWork, note: NoteIn) -> int:
    note_id: int = await uow.conn.fetchval(
        "INSERT INTO notes (owner, seq, text) VALUES ($1, $2, $3) RETURNING id",
        note.owner,
        note.seq,
        note.text,
    )
    uow.record(
        NoteRecorded(note_id=note_id, owner=note.owner, seq=note.seq, text=note.text),
        subject=note.owner,
    )
    log.info("note_recorded", owner=note.owner, seq=note.seq)
    if note.fail_before_commit:
        raise RuntimeError("simulated failure before commit")
    await uow.commit()
    return note_id


async def count_note(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    """Count each note once per owner, remembering the order seen."""
    assert isinstance(event, NoteRecorded)
    if event.text == "reject-me":
        raise EventRejected("this note cannot be counted", reason="note-refused")
    log.info("note_counted", owner=event.owner, seq=event.seq)
    await uow.conn.execute(
        "INSERT INTO note_effects (owner, seq, event_id) VALUES ($1, $2, $3)",
        event.owner,
        event.seq,
        envelope.event_id,
    )


async def count_notes(events: Sequence[Received], uow: UnitOfWork) -> None:
    """Count a batch of notes with one statement (the batch handler API)."""
    notes = [(r.event, r.envelope.event_id) for r in events if isinstance(r.event, NoteRecorded)]
    if any(note.text == "reject-me" for note, _ in notes):
        raise EventRejected("this note cannot be counted", reason="note-refused")
    await uow.conn.execute(
        "INSERT INTO note_effects (owner, seq, event_id) "
        "SELECT * FROM unnest($1::text[], $2::int[], $3::uuid[])",
        [note.owner for note, _ in notes],
        [note.seq for note, _ in notes],
        [event_id for _, event_id in notes],
    )


def create_app(
    settings: ExampleSettings,
    *,
    consumer_group: str | None = None,
    batch: bool = False,
    handle_many: BatchHandler = count_notes,
) -> FastAPI:
    """The example service; with ``consumer_group``, its consumer too (``batch``: through the
    batch handler API, ``handle_many``, by default ``count_notes``)."""

    def register(runtime: Runtime) -> None:
        if consumer_group and batch:
            subscribe(
                runtime, consumer=consumer_group, events=[NoteRecorded], handle_many=handle_many
            )
        elif consumer_group:
            subscribe(runtime, consumer=consumer_group, events=[NoteRecorded], handler=count_note)

    runtime = Runtime(
        settings,
        migrations=MigrationSet.from_folder("example", MIGRATIONS),
        register_consumers=register,
    )
    router = APIRouter()

    @router.post("/notes", status_code=201)
    async def post_note(note: NoteIn, rt: Runtime = Depends(get_runtime)) -> dict[str, int]:
        """A short, database-only unit of work: concurrent requests share commits."""
        async with rt.uow(shared_commit=True) as uow:
            return {"id": await record_note(uow, note)}

    return create_service_app(
        settings, runtime, title="example", routers=[router], configure_observability=False
    )
