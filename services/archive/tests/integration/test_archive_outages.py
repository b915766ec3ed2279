"""The vault or the object store down: nothing lost, nothing stored in clear, retried."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from archive.service import processing
from archive_it_conftest import running_stack
from archive_it_helpers import MemberTokens, jpeg
from coffre_testing.stores import S3Endpoint, TsaEndpoint
from devstack.kafka import EmbeddedS3
from devstack.ports import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.asyncio]


async def test_with_the_vault_down_nothing_is_accepted_and_the_client_may_retry(
    infra: Any, schema_name: str, s3_endpoint: S3Endpoint, dev_tsa: TsaEndpoint,
    identity_dir: Path, tokens: MemberTokens, tmp_path: Path,
) -> None:  # fmt: skip
    async with running_stack(
        infra, schema_name, s3_endpoint, dev_tsa, identity_dir, tokens, tmp_path,
        vault_down=True,
    ) as stack:  # fmt: skip
        answer = await stack.upload("member-1", jpeg())
        assert answer.status_code == 503
        assert answer.json()["code"] == "archive.vault-unavailable"
        assert await stack.db.pool.fetchval("SELECT count(*) FROM receipts") == 0


async def test_with_the_store_down_a_receipt_waits_encrypted_and_is_stored_later(
    infra: Any, schema_name: str, dev_tsa: TsaEndpoint, identity_dir: Path,
    tokens: MemberTokens, tmp_path: Path,
) -> None:  # fmt: skip
    store = EmbeddedS3(free_port(), bucket="bootstrap")
    endpoint = S3Endpoint(store.endpoint)
    original = jpeg()
    async with running_stack(
        infra, schema_name, endpoint, dev_tsa, identity_dir, tokens, tmp_path,
        retry_base_seconds=0.05,
    ) as stack:  # fmt: skip
        answer = await stack.upload("member-1", original)
        assert answer.status_code == 202, answer.text
        assert answer.json()["status"] == "received"
        rid = answer.json()["receipt_id"]
        row = await stack.db.pool.fetchrow(
            "SELECT status, last_error, attempts FROM receipts WHERE receipt_id = $1::uuid", rid
        )
        assert (row["status"], row["last_error"]) == ("received", "archive.store-unavailable")
        blobs = await stack.db.pool.fetch("SELECT blob FROM staged_objects")
        assert len(blobs) == 2
        assert all(original[20:80] not in bytes(b["blob"]) for b in blobs)
        assert all(b"%PDF" not in bytes(b["blob"]) for b in blobs)
        store.start()
        try:
            for _ in range(100):
                if await processing.process_due(stack.container.ctx):
                    break
                await asyncio.sleep(0.05)
            fetched = await stack.client.get(
                f"/v1/receipts/{rid}", headers=stack.headers("member-1")
            )
            assert fetched.status_code == 200
            assert hashlib.sha256(fetched.content).hexdigest() == (
                await stack.db.pool.fetchval(
                    "SELECT sealed_sha256 FROM receipts WHERE receipt_id = $1::uuid", rid
                )
            )
            assert await stack.db.pool.fetchval("SELECT count(*) FROM staged_objects") == 0
        finally:
            store.stop()
