"""A consumer process that is killed (SIGKILL) right after its database commit for one event,
before Kafka hears that the event was processed. Run by test_consumer_crash.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal

from common.db import MigrationSet
from common.db.uow import UnitOfWork
from common.events import Envelope, Event
from common.messaging import subscribe
from common.runtime import Runtime

from coffre_testing.example.service import (
    MIGRATIONS,
    ExampleSettings,
    NoteRecorded,
    count_note,
)

CRASH_SEQ = int(os.environ["CRASH_AT_SEQ"])


async def crashing_handler(event: Event, envelope: Envelope, uow: UnitOfWork) -> None:
    await count_note(event, envelope, uow)
    if isinstance(event, NoteRecorded) and event.seq == CRASH_SEQ:
        real_commit = uow.commit

        async def commit_then_die() -> None:
            await real_commit()
            os.kill(os.getpid(), signal.SIGKILL)

        uow.commit = commit_then_die  # type: ignore[method-assign]


async def main() -> None:
    settings = ExampleSettings.model_validate(json.loads(os.environ["EXAMPLE_SETTINGS"]))
    runtime = Runtime(
        settings,
        migrations=MigrationSet.from_folder("example", MIGRATIONS),
        register_consumers=lambda rt: subscribe(
            rt, consumer=os.environ["GROUP"], events=[NoteRecorded], handler=crashing_handler
        ),
        run_relay=False,
    )
    await runtime.start()
    await asyncio.sleep(3600)  # the handler kills the process; the test bounds the wait


if __name__ == "__main__":
    asyncio.run(main())
