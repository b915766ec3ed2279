"""The backbone bench's consuming service in a process of its own.

In a deployment the events one service's relay publishes are consumed by other services, in
other processes; a scenario with ``consumer_process`` runs that shape: this module's ``main``
is the consuming service (its own schema, inbox and consumer group, the same handlers as the
in-process ``Counter``) while the bench process keeps the writers and the relay.

Rules: the child reports on a pipe of its own (never stdout, which carries logs), one JSON
object per line: ``{"ready": true}`` once its partitions are assigned, then
``{"done": <wall clock>, "calls": n, "cpu_s": s}`` when it has handled every event of the run
(wall clock: ``time.time()``, comparable with the parent's). A child that exits before
reporting makes the scenario fail, never hang.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import IO, Any

from common.logging import configure_logging

JOIN_SECONDS = 3.0
"""How long the consumer waits after connecting for its partitions to be assigned."""


@dataclass(frozen=True)
class ConsumerDone:
    at: float
    calls: int
    cpu_s: float | None


class ConsumerProcess(AbstractAsyncContextManager["ConsumerProcess"]):
    """The consuming service as a child process: entered once it is ready to consume."""

    def __init__(
        self, database_url: str, bootstrap: str, prefix: str, count: int, *, batch_handler: bool
    ) -> None:
        self._args = [database_url, bootstrap, prefix, str(count)]
        if batch_handler:
            self._args.append("--batch-handler")
        self._process: asyncio.subprocess.Process | None = None
        self._reports: IO[str] | None = None

    async def __aenter__(self) -> ConsumerProcess:
        read, write = os.pipe()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "devstack.backbone_consumer",
            *self._args,
            "--report-fd",
            str(write),
            pass_fds=(write,),
        )
        os.close(write)
        self._reports = os.fdopen(read, encoding="utf-8")
        await self._report("ready")
        return self

    async def done(self, timeout: float = 600) -> ConsumerDone:
        report = await asyncio.wait_for(self._report("done"), timeout)
        return ConsumerDone(float(report["done"]), int(report["calls"]), float(report["cpu_s"]))

    async def _report(self, key: str) -> dict[str, Any]:
        assert self._reports is not None
        line = await asyncio.to_thread(self._reports.readline)
        if not line:
            raise RuntimeError(f"the bench's consumer process exited before reporting {key}")
        report: dict[str, Any] = json.loads(line)
        if key not in report:
            raise RuntimeError(f"the bench's consumer process reported {report}, not {key}")
        return report

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        process, self._process = self._process, None
        if self._reports is not None:
            self._reports.close()
        if process is None:
            return
        if exc is not None:
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 60)
        except TimeoutError:
            process.kill()
            await process.wait()


async def consume(
    database_url: str, bootstrap: str, prefix: str, count: int, batch_handler: bool, report: IO[str]
) -> None:
    # the bench's module imports this one: its parts are imported when the child runs
    from devstack.backbone_bench import Counter, counting_consumer, example_runtime, settings_for

    settings = settings_for(database_url, bootstrap, 4)
    counter = Counter(prefix, count)
    register = await counting_consumer(bootstrap, settings, counter, batch_handler=batch_handler)
    runtime = example_runtime(settings, register)
    await runtime.start()
    try:
        await asyncio.wait_for(runtime.kafka_connected.wait(), 30)
        await asyncio.sleep(JOIN_SECONDS)
        _send(report, {"ready": True})
        cpu = time.process_time()
        await asyncio.wait_for(counter.done.wait(), timeout=600)
        done = time.time()
        _send(report, {"done": done, "calls": counter.calls, "cpu_s": time.process_time() - cpu})
    finally:
        await runtime.stop()


def _send(report: IO[str], message: dict[str, Any]) -> None:
    report.write(json.dumps(message) + "\n")
    report.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database_url")
    parser.add_argument("bootstrap")
    parser.add_argument("prefix")
    parser.add_argument("count", type=int)
    parser.add_argument("--batch-handler", action="store_true")
    parser.add_argument("--report-fd", type=int, required=True)
    args = parser.parse_args()
    configure_logging("bench-consumer", level="WARNING")
    with os.fdopen(args.report_fd, "w", encoding="utf-8") as report:
        asyncio.run(
            consume(
                args.database_url,
                args.bootstrap,
                args.prefix,
                args.count,
                args.batch_handler,
                report,
            )
        )


if __name__ == "__main__":
    main()
