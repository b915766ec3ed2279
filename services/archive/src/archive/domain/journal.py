"""The receipts journal: append-only and hash-chained (in the spirit of NF Z42-013).

Rule: entry n stores `hash_n = SHA-256(hash_{n-1} || canonical_json(body_n))` with body
{seq, at, receipt_id, user_id, action, detail} (keys sorted, no spaces, UTF-8); the first entry
chains to 32 zero bytes. Editing, deleting or reordering any entry breaks every later hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = bytes(32)


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    at: datetime
    receipt_id: str | None
    user_id: str | None
    action: str
    detail: dict[str, Any]
    prev_hash: bytes
    hash: bytes


@dataclass(frozen=True)
class NewEntry:
    """An entry to append: the journal gives it its seq and hashes."""

    at: datetime
    receipt_id: str | None
    user_id: str | None
    action: str
    detail: dict[str, Any]


def body(
    seq: int,
    at: datetime,
    receipt_id: str | None,
    user_id: str | None,
    action: str,
    detail: dict[str, Any],
) -> bytes:
    doc = {
        "seq": seq,
        "at": at.isoformat(),
        "receipt_id": receipt_id,
        "user_id": user_id,
        "action": action,
        "detail": detail,
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain(prev_hash: bytes, entry_body: bytes) -> bytes:
    return hashlib.sha256(prev_hash + entry_body).digest()


def verify_chain(entries: list[JournalEntry]) -> int | None:
    """The seq of the first entry that breaks the chain, or None when it is whole."""
    prev = GENESIS
    expected_seq = entries[0].seq if entries else 1
    for e in entries:
        b = body(e.seq, e.at, e.receipt_id, e.user_id, e.action, e.detail)
        if e.seq != expected_seq or e.prev_hash != prev or chain(prev, b) != e.hash:
            return e.seq
        prev, expected_seq = e.hash, e.seq + 1
    return None
