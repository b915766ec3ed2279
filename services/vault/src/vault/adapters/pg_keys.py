"""Postgres repositories for master keys and data keys (all their SQL lives here).

Rules: destroyed data keys keep their row without bytes; re-wrapping touches live keys only, so
a rotation batch can never bring back a key that an erasure destroyed meanwhile; rotation reads
lock the keys they will re-wrap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from vault.domain.errors import ConcurrentUpdate, RotationConflict
from vault.domain.keys import DataKey, MasterKey, MasterKeyState

_DK = "key_id::text, subject, version, master_version, wrapped, created_at, destroyed_at"
_MK = "version, wrapped, kms_key_id, state, created_at, retired_at"


def _master(row: Any) -> MasterKey:
    return MasterKey(
        row["version"],
        row["wrapped"],
        row["kms_key_id"],
        MasterKeyState(row["state"]),
        row["created_at"],
        row["retired_at"],
    )


def _data_key(row: Any) -> DataKey:
    return DataKey(
        row["key_id"],
        row["subject"],
        row["version"],
        row["master_version"],
        row["wrapped"],
        row["created_at"],
        row["destroyed_at"],
    )


class PgMasterKeys:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, version: int) -> MasterKey | None:
        row = await self.conn.fetchrow(f"SELECT {_MK} FROM master_keys WHERE version = $1", version)  # noqa: S608
        return _master(row) if row else None

    async def active(self) -> MasterKey | None:
        row = await self.conn.fetchrow(f"SELECT {_MK} FROM master_keys WHERE state = 'active'")  # noqa: S608
        return _master(row) if row else None

    async def all(self) -> list[MasterKey]:
        return [
            _master(r)
            for r in await self.conn.fetch(f"SELECT {_MK} FROM master_keys ORDER BY version")  # noqa: S608
        ]

    async def add(self, key: MasterKey) -> None:
        try:
            await self.conn.execute(
                f"INSERT INTO master_keys ({_MK}) VALUES ($1, $2, $3, $4, $5, $6)",  # noqa: S608
                key.version,
                key.wrapped,
                key.kms_key_id,
                str(key.state),
                key.created_at,
                key.retired_at,
            )
        except asyncpg.UniqueViolationError:
            raise RotationConflict("another process created this master key version") from None

    async def save(self, key: MasterKey) -> None:
        await self.conn.execute(
            "UPDATE master_keys SET wrapped = $2, state = $3, retired_at = $4 WHERE version = $1",
            key.version,
            key.wrapped,
            str(key.state),
            key.retired_at,
        )


class PgDataKeys:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, key_id: str) -> DataKey | None:
        row = await self.conn.fetchrow(
            f"SELECT {_DK} FROM data_keys WHERE key_id = $1::uuid",  # noqa: S608
            key_id,
        )
        return _data_key(row) if row else None

    async def current(self, subject: str) -> DataKey | None:
        row = await self.conn.fetchrow(
            f"SELECT {_DK} FROM data_keys WHERE subject = $1 ORDER BY version DESC LIMIT 1",  # noqa: S608
            subject,
        )
        return _data_key(row) if row else None

    async def for_subject(self, subject: str) -> list[DataKey]:
        rows = await self.conn.fetch(
            f"SELECT {_DK} FROM data_keys WHERE subject = $1 ORDER BY version FOR UPDATE",  # noqa: S608
            subject,
        )
        return [_data_key(r) for r in rows]

    async def of_subject(self, subject: str) -> list[DataKey]:
        rows = await self.conn.fetch(
            f"SELECT {_DK} FROM data_keys WHERE subject = $1 ORDER BY version",  # noqa: S608
            subject,
        )
        return [_data_key(r) for r in rows]

    async def add(self, key: DataKey) -> None:
        try:
            await self.conn.execute(
                "INSERT INTO data_keys (key_id, subject, version, master_version, wrapped,"
                " created_at, destroyed_at) VALUES ($1::uuid, $2, $3, $4, $5, $6, $7)",
                key.key_id,
                key.subject,
                key.version,
                key.master_version,
                key.wrapped,
                key.created_at,
                key.destroyed_at,
            )
        except asyncpg.UniqueViolationError:
            raise ConcurrentUpdate() from None

    async def save_many(self, keys: Sequence[DataKey]) -> None:
        await self.conn.executemany(
            "UPDATE data_keys SET wrapped = $2, master_version = $3, destroyed_at = $4"
            " WHERE key_id = $1::uuid",
            [(k.key_id, k.wrapped, k.master_version, k.destroyed_at) for k in keys],
        )

    async def rewrap(self, keys: Sequence[DataKey]) -> None:
        await self.conn.executemany(
            "UPDATE data_keys SET wrapped = $2, master_version = $3"
            " WHERE key_id = $1::uuid AND destroyed_at IS NULL",
            [(k.key_id, k.wrapped, k.master_version) for k in keys],
        )

    async def batch_not_under(
        self, master_version: int, after_key_id: str | None, limit: int
    ) -> list[DataKey]:
        rows = await self.conn.fetch(
            f"SELECT {_DK} FROM data_keys WHERE destroyed_at IS NULL AND master_version <> $1"  # noqa: S608
            " AND ($2::uuid IS NULL OR key_id > $2::uuid) ORDER BY key_id LIMIT $3 FOR UPDATE",
            master_version,
            after_key_id,
            limit,
        )
        return [_data_key(r) for r in rows]

    async def count_not_under(self, master_version: int) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM data_keys WHERE destroyed_at IS NULL AND master_version <> $1",
            master_version,
        )
        return count

    async def count_under(self, master_version: int) -> int:
        count: int = await self.conn.fetchval(
            "SELECT count(*) FROM data_keys WHERE destroyed_at IS NULL AND master_version = $1",
            master_version,
        )
        return count


class PgSubjectEpochs:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def get(self, subject: str) -> int:
        epoch = await self.conn.fetchval(
            "SELECT epoch FROM subject_epochs WHERE subject = $1", subject
        )
        return int(epoch or 0)

    async def bump(self, subject: str) -> int:
        epoch: int = await self.conn.fetchval(
            "INSERT INTO subject_epochs (subject, epoch) VALUES ($1, 1) ON CONFLICT (subject)"
            " DO UPDATE SET epoch = subject_epochs.epoch + 1 RETURNING epoch",
            subject,
        )
        return epoch
