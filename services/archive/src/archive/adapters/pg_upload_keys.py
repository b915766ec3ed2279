"""Upload idempotency keys in Postgres (``archive.service.uploads`` states the rules)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from archive.service.ports import KeyedUpload


class PgUploadKeys:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def find(self, user_id: str, key_sha256: str) -> KeyedUpload | None:
        row = await self._conn.fetchrow(
            "SELECT fingerprint, receipt_id FROM upload_keys "
            "WHERE user_id = $1 AND key_sha256 = $2",
            user_id,
            key_sha256,
        )
        return KeyedUpload(row["fingerprint"], row["receipt_id"]) if row else None

    async def claim(
        self, user_id: str, key_sha256: str, upload: KeyedUpload, at: datetime
    ) -> KeyedUpload | None:
        """Record the key for ``upload``; if another upload holds it, that one (waiting for its
        transaction to end first, as the primary key does)."""
        inserted = await self._conn.fetchval(
            "INSERT INTO upload_keys (user_id, key_sha256, fingerprint, receipt_id, created_at) "
            "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING true",
            user_id,
            key_sha256,
            upload.fingerprint,
            upload.receipt_id,
            at,
        )
        return None if inserted else await self.find(user_id, key_sha256)

    async def purge(self, before: datetime, limit: int) -> int:
        status = await self._conn.execute(
            "DELETE FROM upload_keys WHERE (user_id, key_sha256) IN (SELECT user_id, key_sha256 "
            "FROM upload_keys WHERE created_at < $1 LIMIT $2)",
            before,
            limit,
        )
        return int(status.split()[-1])

    async def erase(self, user_id: str) -> int:
        status = await self._conn.execute("DELETE FROM upload_keys WHERE user_id = $1", user_id)
        return int(status.split()[-1])
