"""Running a service's FastAPI app in-process (its real lifespan) with an HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
from common.runtime import Runtime
from fastapi import FastAPI

from coffre_testing.waiting import patient


@contextlib.asynccontextmanager
async def running_app(
    app: FastAPI, *, wait_for_kafka: bool = True, timeout: float = 30.0, stop_timeout: float = 60.0
) -> AsyncIterator[httpx.AsyncClient]:
    """Start the app's lifespan (pool, migrations, relay, consumers) and yield a client.

    Stopping is bounded: a leaked pooled connection fails the test with ``ConnectionLeak``
    (naming the code that acquired it) and a stop that hangs fails after ``stop_timeout`` s.
    """
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    failure: BaseException | None = None
    try:
        runtime: Runtime = app.state.runtime
        if wait_for_kafka:
            await asyncio.wait_for(runtime.kafka_connected.wait(), patient(timeout))
            await _wait_for_assignment(runtime, patient(timeout))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    except BaseException as exc:
        failure = exc
        raise
    finally:
        await _stop(lifespan, failure, patient(stop_timeout))


async def _stop(
    lifespan: contextlib.AbstractAsyncContextManager[Any],
    failure: BaseException | None,
    stop_timeout: float,
) -> None:
    exit_args = (type(failure), failure, failure.__traceback__) if failure else (None, None, None)
    try:
        await asyncio.wait_for(lifespan.__aexit__(*exit_args), stop_timeout)
    except TimeoutError:
        raise AssertionError(f"the service did not stop within {stop_timeout} s") from None


async def _wait_for_assignment(runtime: Runtime, timeout: float) -> None:
    """Wait until every consumer of the runtime has joined its group and got partitions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for subscriber in runtime.broker.subscribers:
        consumer = getattr(subscriber, "consumer", None)
        while consumer is not None and not consumer.assignment() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


class LogCapture(io.StringIO):
    """A stream that collects the JSON log lines a service writes."""

    def isatty(self) -> bool:
        return False

    @property
    def text(self) -> str:
        return self.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.getvalue().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                out.append(json.loads(line))
        return out

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == name]


class ReadyRuntime:
    """A stand-in for the runtime ``common.http.create_service_app`` reports readiness from, for
    unit tests of the HTTP layer that start no pool, relay or consumer: always ready."""

    async def readiness(self) -> dict[str, bool]:
        return {"postgres": True}
