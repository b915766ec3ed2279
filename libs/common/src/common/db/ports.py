"""The transaction port every service's unit-of-work Protocol extends.

Rule: use cases depend on this shape, not on asyncpg: enter, do the work, ``commit``; leaving
without commit undoes everything, including the events recorded inside.
"""

from __future__ import annotations

from types import TracebackType
from typing import Protocol, Self


class TransactionPort(Protocol):
    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...
