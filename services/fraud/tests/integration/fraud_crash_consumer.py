"""A fraud replica that is killed (SIGKILL) right after the database commit of the batch that
scores ``CRASH_AT_REF``, before Kafka hears that the batch was processed.
Run by test_fraud_batch_state.py."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import Sequence
from typing import Any

from coffre_testing.app import running_app
from fraud.domain.activity import Activity
from fraud.entrypoints import consumers
from fraud.entrypoints.app import create_app
from fraud.settings import FraudSettings

CRASH_AT_REF = os.environ["CRASH_AT_REF"]
real_score_in = consumers.score_in


async def score_then_die_after_commit(
    activities: Sequence[Activity], uow: Any, engine: Any, **options: Any
) -> Any:
    scored = await real_score_in(activities, uow, engine, **options)
    if any(a.ref == CRASH_AT_REF for a in activities):
        shared = uow._uow  # the consumer's unit of work, which commits the batch
        real_commit = shared.commit

        async def commit_then_die() -> None:
            await real_commit()
            os.kill(os.getpid(), signal.SIGKILL)

        shared.commit = commit_then_die
    return scored


async def main() -> None:
    consumers.score_in = score_then_die_after_commit  # type: ignore[assignment]
    settings = FraudSettings.model_validate(json.loads(os.environ["FRAUD_TEST_SETTINGS"]))
    async with running_app(create_app(settings)):
        await asyncio.sleep(60)


if __name__ == "__main__":
    asyncio.run(main())
