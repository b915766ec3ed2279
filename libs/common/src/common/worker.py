"""One background task per event loop that works through what its callers queue.

Rules:
- ``kick()`` starts the task in the running loop if none runs there (a task left on a loop that
  is gone, as between tests, is replaced by a fresh one) and wakes it; it returns the loop, for
  the caller's futures.
- The body gets the wake-up event: it waits on it, clears it, works through the queue, and
  returns once ``closing`` is set and nothing is left.
- ``close()`` sets ``closing``, wakes the task and awaits it, so everything queued is handled
  first; a task on a loop that is gone cannot be awaited and is cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class LoopWorker:
    def __init__(
        self, body: Callable[[asyncio.Event], Coroutine[Any, Any, None]], *, name: str
    ) -> None:
        self._body = body
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.closing = False

    def kick(self) -> asyncio.AbstractEventLoop:
        """Wake the task, starting it in the running loop first if it does not run there."""
        loop = asyncio.get_running_loop()
        task = self._task
        if task is None or task.done() or task.get_loop() is not loop:
            self.closing = False
            self._wake = asyncio.Event()
            self._task = loop.create_task(self._body(self._wake), name=self._name)
        self._wake.set()
        return loop

    async def close(self) -> None:
        """Let the task finish what is queued, then stop it."""
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if task.get_loop() is not asyncio.get_running_loop():
            task.cancel()  # a task left on a loop that is gone cannot be awaited
            return
        self.closing = True
        self._wake.set()
        await task
