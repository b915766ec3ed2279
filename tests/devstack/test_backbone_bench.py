"""The backbone bench's scenarios run end to end on the real broker and Postgres at a tiny volume:
every event is handled, with the consumer in the bench process or in a process of its own, and
a consumer process that dies before reporting fails the scenario instead of hanging it. Rates
are printed by ``make bench``, never asserted here."""

from __future__ import annotations

import pytest
from coffre_testing.infra import Infra
from devstack.backbone_bench import Scenario, run_scenario
from devstack.backbone_consumer import ConsumerProcess

pytestmark = [pytest.mark.integration, pytest.mark.asyncio, pytest.mark.slow]

EVENTS = 120


@pytest.mark.parametrize("consumer_process", [False, True], ids=["in-process", "own-process"])
async def test_every_event_of_a_batched_write_scenario_is_consumed(
    infra: Infra, consumer_process: bool
) -> None:
    scenario = Scenario(
        EVENTS,
        writers=8,
        batched_writes=True,
        batch_handler=True,
        consumer_process=consumer_process,
    )

    result = await run_scenario(infra.database_url, infra.bootstrap_servers, scenario)

    # the run returns only once its consumer counted all EVENTS events through its inbox
    assert 1 <= result.handler_calls <= EVENTS
    assert 1 <= result.commits <= EVENTS
    assert result.end_to_end_rate > 0


async def test_a_consumer_process_that_dies_before_reporting_fails_the_scenario(
    infra: Infra,
) -> None:
    unreachable = "postgresql://coffre@127.0.0.1:1/coffre"
    consumer = ConsumerProcess(
        unreachable, infra.bootstrap_servers, "dies", EVENTS, batch_handler=True
    )

    with pytest.raises(RuntimeError, match="exited before reporting ready"):
        async with consumer:
            pytest.fail("a consumer that cannot reach its database is never ready")
