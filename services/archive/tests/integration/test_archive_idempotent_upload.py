"""Uploads with an Idempotency-Key, over HTTP against the real Postgres, vault, store and TSA:
a retried upload is answered with the first receipt and never archived twice."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from typing import Any

import httpx
import pytest
from archive.domain.receipts import Source
from archive.service import intake, uploads
from archive_it_helpers import erase, jpeg, png

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]
Stack = Any


async def _receipts(stack: Stack, member: str) -> int:
    count: int = await stack.db.pool.fetchval(
        "SELECT count(*) FROM receipts WHERE user_id = $1", member
    )
    return count


def _problem(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == code


async def test_a_retried_upload_is_answered_with_the_first_receipt(
    stack: Stack, member: str
) -> None:
    key = f"retry-{uuid.uuid4()}"
    content = jpeg()
    first = await stack.upload(member, content, idempotency_key=key, amount="12.50", currency="EUR")
    again = await stack.upload(member, content, idempotency_key=key, amount="12.50", currency="EUR")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert again.status_code == 201, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert await _receipts(stack, member) == 1
    rows = await stack.db.pool.fetch("SELECT * FROM upload_keys")
    assert [r["key_sha256"] for r in rows] == [hashlib.sha256(key.encode()).hexdigest()]
    assert all(key not in str(value) for r in rows for value in r.values())  # never in clear


async def test_the_same_key_with_another_upload_is_refused(stack: Stack, member: str) -> None:
    key = str(uuid.uuid4())
    assert (await stack.upload(member, jpeg(), idempotency_key=key)).status_code == 201
    _problem(
        await stack.upload(member, png(), idempotency_key=key),
        422,
        "archive.idempotency-key-reused",
    )
    other_fields = await stack.upload(member, jpeg(), idempotency_key=key, amount="3.00")
    _problem(other_fields, 422, "archive.idempotency-key-reused")
    assert await _receipts(stack, member) == 1


async def test_keys_are_each_members_own(stack: Stack) -> None:
    key, content = str(uuid.uuid4()), jpeg()
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    first = await stack.upload(alice, content, idempotency_key=key)
    second = await stack.upload(bob, content, idempotency_key=key)
    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert first.json()["receipt_id"] != second.json()["receipt_id"]


async def test_a_malformed_key_is_refused_before_anything_is_stored(
    stack: Stack, member: str
) -> None:
    for key in ("x" * 256, "   "):
        _problem(
            await stack.upload(member, jpeg(), idempotency_key=key),
            422,
            "archive.idempotency-key-invalid",
        )
    assert await _receipts(stack, member) == 0
    assert await stack.db.pool.fetchval("SELECT count(*) FROM upload_keys") == 0


async def test_a_refused_upload_does_not_use_up_its_key(stack: Stack, member: str) -> None:
    key = str(uuid.uuid4())
    _problem(
        await stack.upload(member, png(), idempotency_key=key), 422, "archive.receipt-rejected"
    )
    stored = await stack.upload(member, jpeg(), idempotency_key=key)
    assert stored.status_code == 201, stored.text
    assert "Idempotent-Replayed" not in stored.headers


async def test_two_requests_racing_with_one_key_store_one_receipt(
    stack: Stack, member: str
) -> None:
    key, content = str(uuid.uuid4()), jpeg()
    answers = await asyncio.gather(
        *(stack.upload(member, content, idempotency_key=key) for _ in range(3))
    )
    [first] = [a for a in answers if "Idempotent-Replayed" not in a.headers]
    assert first.status_code == 201, first.text
    replays = [a for a in answers if a.headers.get("Idempotent-Replayed") == "true"]
    assert len(replays) == 2
    # a replay answers with the receipt as it is: 202 while the first is still sealing it
    assert {a.status_code for a in replays} <= {201, 202}, [a.text for a in replays]
    assert {a.json()["receipt_id"] for a in answers} == {first.json()["receipt_id"]}
    assert await _receipts(stack, member) == 1


async def test_the_upload_that_loses_the_race_drops_its_own_work(stack: Stack, member: str) -> None:
    """The loser got past the first look-up, rendered, sealed and fetched a document key; it
    finds the key at staging, stores nothing and destroys its key again."""
    key, content = str(uuid.uuid4()), jpeg()
    first = (await stack.upload(member, content, idempotency_key=key)).json()
    claim = uploads.upload_key(member, key, content, "receipt.jpg", {})
    item = intake.Incoming(
        user_id=member, source=Source.UPLOAD, filename="receipt.jpg",
        content_type="image/jpeg", content=content,
    )  # fmt: skip
    with pytest.raises(uploads.AlreadyUploaded) as raced:
        await intake.accept(stack.container.ctx, [item], claim)
    assert str(raced.value.receipt_id) == first["receipt_id"]
    assert await _receipts(stack, member) == 1
    live = await stack.vault_app.state.runtime.db.pool.fetchval(
        "SELECT count(*) FROM data_keys WHERE subject LIKE 'archive-receipt-%'"
        " AND wrapped IS NOT NULL"
    )
    assert live == 1  # the first receipt's key only


async def test_keys_expire_and_are_erased_with_the_member(
    stack: Stack, infra: Any, member: str
) -> None:
    key, content = str(uuid.uuid4()), jpeg()
    first = (await stack.upload(member, content, idempotency_key=key)).json()
    await stack.db.pool.execute("UPDATE upload_keys SET created_at = now() - interval '49 hours'")
    assert await uploads.purge_expired(stack.container.ctx) == 1
    later = await stack.upload(member, content, idempotency_key=key)
    assert later.status_code == 201
    assert later.json()["receipt_id"] != first["receipt_id"]
    done = await erase(infra.bootstrap_servers, member)
    assert b'"upload_keys_erased":1' in done.value
    assert await stack.db.pool.fetchval("SELECT count(*) FROM upload_keys") == 0
