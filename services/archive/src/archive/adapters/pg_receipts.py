"""Receipts and their staged ciphertexts in Postgres (all their SQL lives here).

Rule: `get(lock=True)` and `due` take row locks (`FOR UPDATE`, `SKIP LOCKED` for batches), so
two workers never process or shred the same receipt at once.
"""

# ruff: noqa: S608  (queries interpolate this module's column lists only, never input)

from __future__ import annotations

import uuid
from datetime import datetime

import asyncpg

from archive.domain.matching import Candidate
from archive.domain.receipts import Hints, Receipt, Source, Status

_FIELDS = (
    "receipt_id",
    "user_id",
    "source",
    "filename",
    "content_type",
    "original_sha256",
    "original_size",
    "pdf_sha256",
    "created_at",
    "vault_subject",
    "wrapped_key",
    "document_key_id",
    "transaction_ref",
    "payment_id",
    "amount",
    "currency",
    "spent_on",
    "status",
    "sealed_sha256",
    "sealed_size",
    "sealed_at",
    "retention_until",
    "sealed_object",
    "sealed_version",
    "sealed_cipher_sha256",
    "original_object",
    "original_version",
    "original_cipher_sha256",
    "attempts",
    "next_attempt_at",
    "last_error",
    "matched_kind",
    "matched_ref",
    "erasure_requested_at",
    "shredded_at",
    "archival_due_at",
    "pdfa",
    "pdfa_reason",
)
_COLUMNS = ", ".join(_FIELDS)
_PLACEHOLDERS = ", ".join(f"${i}" for i in range(1, len(_FIELDS) + 1))
_UPDATES = ", ".join(f"{f} = ${i}" for i, f in enumerate(_FIELDS[1:], start=2))


def _values(r: Receipt) -> list[object]:
    h = r.hints
    return [
        r.receipt_id,
        r.user_id,
        r.source.value,
        r.filename,
        r.content_type,
        r.original_sha256,
        r.original_size,
        r.pdf_sha256,
        r.created_at,
        r.vault_subject,
        r.wrapped_key,
        r.document_key_id,
        h.transaction_ref,
        h.payment_id,
        h.amount,
        h.currency,
        h.spent_on,
        r.status.value,
        r.sealed_sha256,
        r.sealed_size,
        r.sealed_at,
        r.retention_until,
        r.sealed_object,
        r.sealed_version,
        r.sealed_cipher_sha256,
        r.original_object,
        r.original_version,
        r.original_cipher_sha256,
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.matched_kind,
        r.matched_ref,
        r.erasure_requested_at,
        r.shredded_at,
        r.archival_due_at,
        r.pdfa,
        r.pdfa_reason,
    ]


def _receipt(row: asyncpg.Record) -> Receipt:
    values = dict(row)
    hints = Hints(
        transaction_ref=values.pop("transaction_ref"),
        payment_id=values.pop("payment_id"),
        amount=values.pop("amount"),
        currency=values.pop("currency"),
        spent_on=values.pop("spent_on"),
    )
    values["source"] = Source(values["source"])
    values["status"] = Status(values["status"])
    values["wrapped_key"] = bytes(values["wrapped_key"])
    return Receipt(hints=hints, **values)


class PgReceipts:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def add(self, receipt: Receipt) -> None:
        await self._conn.execute(
            f"INSERT INTO receipts ({_COLUMNS}) VALUES ({_PLACEHOLDERS})", *_values(receipt)
        )

    async def update(self, receipt: Receipt) -> None:
        await self._conn.execute(
            f"UPDATE receipts SET {_UPDATES} WHERE receipt_id = $1", *_values(receipt)
        )

    async def get(self, receipt_id: uuid.UUID, *, lock: bool = False) -> Receipt | None:
        suffix = " FOR UPDATE" if lock else ""
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM receipts WHERE receipt_id = $1{suffix}", receipt_id
        )
        return _receipt(row) if row else None

    async def stage(self, receipt_id: uuid.UUID, part: str, blob: bytes) -> None:
        await self._conn.execute(
            "INSERT INTO staged_objects (receipt_id, part, blob) VALUES ($1, $2, $3)",
            receipt_id,
            part,
            blob,
        )

    async def staged(self, receipt_id: uuid.UUID) -> dict[str, bytes]:
        rows = await self._conn.fetch(
            "SELECT part, blob FROM staged_objects WHERE receipt_id = $1", receipt_id
        )
        return {r["part"]: bytes(r["blob"]) for r in rows}

    async def unstage(self, receipt_id: uuid.UUID) -> None:
        await self._conn.execute("DELETE FROM staged_objects WHERE receipt_id = $1", receipt_id)

    async def due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "SELECT receipt_id FROM receipts WHERE status = 'received' AND next_attempt_at <= $1"
            " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            now,
            limit,
        )
        return [r["receipt_id"] for r in rows]

    async def of_member(self, user_id: str, *, unmatched_only: bool) -> list[Receipt]:
        extra = " AND matched_ref IS NULL AND status <> 'shredded'" if unmatched_only else ""
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM receipts WHERE user_id = $1{extra}"
            " ORDER BY created_at DESC LIMIT 500",
            user_id,
        )
        return [_receipt(r) for r in rows]

    async def candidates(self, user_id: str) -> list[Candidate]:
        return (await self.candidates_of([user_id])).get(user_id, [])

    async def candidates_of(self, user_ids: list[str]) -> dict[str, list[Candidate]]:
        """Each member's unmatched receipts (newest first, at most 1,000 each), in one query."""
        rows = await self._conn.fetch(
            "SELECT * FROM (SELECT user_id, receipt_id, transaction_ref, payment_id, amount,"
            " currency, coalesce(spent_on, (created_at AT TIME ZONE 'UTC')::date) AS on_date,"
            " row_number() OVER (PARTITION BY user_id ORDER BY created_at DESC) AS n"
            " FROM receipts WHERE user_id = ANY($1::text[]) AND matched_ref IS NULL"
            " AND status <> 'shredded') AS c WHERE n <= 1000 ORDER BY user_id, n",
            user_ids,
        )
        found: dict[str, list[Candidate]] = {}
        for r in rows:
            found.setdefault(r["user_id"], []).append(
                Candidate(
                    str(r["receipt_id"]),
                    r["user_id"],
                    r["transaction_ref"],
                    r["payment_id"],
                    r["amount"],
                    r["currency"],
                    r["on_date"],
                )
            )
        return found

    async def set_matched_many(self, matches: list[tuple[str, str, str]]) -> None:
        """(receipt id, kind, ref) for each receipt now matched."""
        await self._conn.execute(
            "UPDATE receipts r SET matched_kind = t.kind, matched_ref = t.ref"
            " FROM unnest($1::uuid[], $2::text[], $3::text[]) AS t(receipt, kind, ref)"
            " WHERE r.receipt_id = t.receipt",
            [uuid.UUID(receipt) for receipt, _, _ in matches],
            [kind for _, kind, _ in matches],
            [ref for _, _, ref in matches],
        )

    async def sample_sealed(self, limit: int) -> list[Receipt]:
        rows = await self._conn.fetch(
            f"SELECT {_COLUMNS} FROM receipts WHERE status = 'sealed' ORDER BY random() LIMIT $1",
            limit,
        )
        return [_receipt(r) for r in rows]

    async def shreddable(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "SELECT receipt_id FROM receipts WHERE status = 'sealed'"
            " AND erasure_requested_at IS NOT NULL AND retention_until <= $1"
            " ORDER BY retention_until LIMIT $2",
            now,
            limit,
        )
        return [r["receipt_id"] for r in rows]

    async def archival_due(self, now: datetime, limit: int) -> list[uuid.UUID]:
        rows = await self._conn.fetch(
            "SELECT receipt_id FROM receipts WHERE status = 'sealed' AND archival_due_at <= $1"
            " AND retention_until > $1 ORDER BY archival_due_at LIMIT $2",
            now,
            limit,
        )
        return [r["receipt_id"] for r in rows]

    async def mark_erasure(self, user_id: str, at: datetime) -> list[Receipt]:
        rows = await self._conn.fetch(
            "UPDATE receipts SET erasure_requested_at = coalesce(erasure_requested_at, $2)"
            f" WHERE user_id = $1 RETURNING {_COLUMNS}",
            user_id,
            at,
        )
        return [_receipt(r) for r in rows]
