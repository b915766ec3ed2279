"""Schema migrations: numbered SQL files applied in order, each up with its down.

Rules: a migration set is a folder of ``NNNN_name.up.sql`` / ``NNNN_name.down.sql`` pairs; every
up has a down; each file runs in its own transaction inside the service's schema; the common set
(outbox, inbox) runs before the service's own; an advisory lock keeps two replicas from migrating
at once; applied versions are recorded per component in ``schema_migrations``.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from common.db.database import Database

FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.(up|down)\.sql$")
COMMON_MIGRATIONS = Path(__file__).parent / "migrations"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    up: str
    down: str


@dataclass(frozen=True)
class MigrationSet:
    component: str
    migrations: tuple[Migration, ...]

    @classmethod
    def from_folder(cls, component: str, folder: Path) -> MigrationSet:
        files: dict[tuple[int, str], dict[str, str]] = {}
        for path in sorted(folder.glob("*.sql")):
            match = FILE_NAME.match(path.name)
            if not match:
                raise ValueError(f"migration file {path.name} does not match NNNN_name.up|down.sql")
            version, name, direction = int(match[1]), match[2], match[3]
            files.setdefault((version, name), {})[direction] = path.read_text()
        migrations = []
        for (version, name), sql in sorted(files.items()):
            if set(sql) != {"up", "down"}:
                raise ValueError(f"migration {version:04d}_{name} needs both up and down files")
            migrations.append(Migration(version, name, sql["up"], sql["down"]))
        versions = [m.version for m in migrations]
        if len(set(versions)) != len(versions):
            raise ValueError(f"duplicate migration versions in {folder}")
        return cls(component, tuple(migrations))


def common_migrations() -> MigrationSet:
    return MigrationSet.from_folder("common", COMMON_MIGRATIONS)


async def _prepare(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_lock($1)", zlib.crc32(f"migrate:{schema}".encode()) & 0x7FFFFFFF
    )
    await conn.execute(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
               component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,
               applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (component, version))"""
    )


async def _release(conn: asyncpg.Connection, schema: str) -> None:
    await conn.execute(
        "SELECT pg_advisory_unlock($1)", zlib.crc32(f"migrate:{schema}".encode()) & 0x7FFFFFFF
    )


async def applied_versions(db: Database, component: str) -> list[int]:
    rows = await db.fetch(
        "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version", component
    )
    return [r["version"] for r in rows]


async def migrate(db: Database, *sets: MigrationSet, include_common: bool = True) -> list[str]:
    """Apply every pending migration; return the names applied."""
    ordered = ([common_migrations()] if include_common else []) + list(sets)
    applied_now: list[str] = []
    async with db.pool.acquire() as conn:
        await _prepare(conn, db.schema)
        try:
            for mset in ordered:
                done = {
                    r["version"]
                    for r in await conn.fetch(
                        "SELECT version FROM schema_migrations WHERE component = $1",
                        mset.component,
                    )
                }
                for m in mset.migrations:
                    if m.version in done:
                        continue
                    async with conn.transaction():
                        await conn.execute(m.up)
                        await conn.execute(
                            "INSERT INTO schema_migrations (component, version, name) "
                            "VALUES ($1, $2, $3)",
                            mset.component,
                            m.version,
                            m.name,
                        )
                    applied_now.append(f"{mset.component}:{m.version:04d}_{m.name}")
        finally:
            await _release(conn, db.schema)
    return applied_now


async def downgrade(db: Database, mset: MigrationSet, to_version: int = 0) -> list[str]:
    """Revert a component's migrations above ``to_version``, newest first."""
    reverted: list[str] = []
    async with db.pool.acquire() as conn:
        await _prepare(conn, db.schema)
        try:
            done = {
                r["version"]
                for r in await conn.fetch(
                    "SELECT version FROM schema_migrations WHERE component = $1", mset.component
                )
            }
            for m in sorted(mset.migrations, key=lambda m: m.version, reverse=True):
                if m.version <= to_version or m.version not in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.down)
                    await conn.execute(
                        "DELETE FROM schema_migrations WHERE component = $1 AND version = $2",
                        mset.component,
                        m.version,
                    )
                reverted.append(f"{mset.component}:{m.version:04d}_{m.name}")
        finally:
            await _release(conn, db.schema)
    return reverted
