"""A service's connection pool, bound to the service's own Postgres schema.

Rules: every connection's search_path is the service's schema, so no service reads another's
tables by accident; the pool opens in the application lifespan, never at import.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Database:
    """An asyncpg pool whose connections live in one schema."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = schema

    @classmethod
    async def connect(
        cls, dsn: str, schema: str, *, min_size: int = 1, max_size: int = 10, app: str = "coffre"
    ) -> Database:
        if not SCHEMA_NAME.match(schema):
            raise ValueError(f"invalid schema name {schema!r}")
        admin = await asyncpg.connect(dsn)
        try:
            await admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        except asyncpg.UniqueViolationError:
            pass  # another replica created it at the same moment
        finally:
            await admin.close()
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            server_settings={"search_path": schema, "application_name": app},
        )
        return cls(pool, schema)

    async def close(self) -> None:
        await self.pool.close()

    async def ping(self) -> bool:
        async with self.pool.acquire(timeout=2) as conn:
            return bool(await conn.fetchval("SELECT 1"))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchval(self, query: str, *args: Any) -> Any:
        async with self.pool.acquire() as conn:
            return await conn.fetchval(query, *args)
