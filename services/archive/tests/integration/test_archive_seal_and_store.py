"""The main path: upload → PDF → PAdES B-LT seal (real TSA) → vault key → S3 under Object Lock
→ read back and verify; and what an outsider sees (pdfsig, the store itself)."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from archive_it_helpers import jpeg, png
from botocore.exceptions import ClientError

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]
Stack = Any


async def test_uploaded_jpeg_is_sealed_encrypted_and_stored_under_retention(
    stack: Stack, member: str
) -> None:
    original = jpeg()
    answer = await stack.upload(member, original, amount="12.50", date="2026-11-30")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["status"] == "sealed"
    assert body["sha256"] == hashlib.sha256(original).hexdigest()
    until = datetime.fromisoformat(body["retention_until"])
    assert until - datetime.now(UTC) > timedelta(days=365 * 10 - 2)
    row = await stack.db.pool.fetchrow(
        "SELECT sealed_object, sealed_version, original_object, original_version, wrapped_key"
        " FROM receipts WHERE receipt_id = $1::uuid",
        body["receipt_id"],
    )
    stored = stack.s3.get_object(
        Bucket=stack.settings.s3_bucket, Key=row["sealed_object"], VersionId=row["sealed_version"]
    )
    blob = stored["Body"].read()
    assert b"%PDF" not in blob
    assert stored["ObjectLockMode"] == "COMPLIANCE"
    kept = stack.s3.get_object(
        Bucket=stack.settings.s3_bucket,
        Key=row["original_object"],
        VersionId=row["original_version"],
    )["Body"].read()
    assert original[16:64] not in kept
    assert await stack.db.pool.fetchval("SELECT count(*) FROM staged_objects") == 0


async def test_member_downloads_a_sealed_pdf_that_pdfsig_validates(
    stack: Stack, member: str, tmp_path: Any
) -> None:
    created = (await stack.upload(member, png(), name="r.png", content_type="image/png")).json()
    answer = await stack.client.get(
        f"/v1/receipts/{created['receipt_id']}", headers=stack.headers(member)
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["cache-control"] == "no-store"
    assert hashlib.sha256(answer.content).hexdigest() == created["sealed_sha256"]
    if shutil.which("pdfsig") is None:
        pytest.skip("pdfsig (poppler-utils) is not installed: make system-deps")
    path = tmp_path / "sealed.pdf"
    path.write_bytes(answer.content)
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False)
    assert "Signature is Valid." in out.stdout, out.stdout
    assert "Coffre Development Receipt Seal" in out.stdout
    assert "ETSI.CAdES.detached" in out.stdout
    if shutil.which("qpdf"):
        checked = subprocess.run(["qpdf", "--check", str(path)], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout + checked.stderr


async def test_verification_report_proves_seal_chain_timestamp_and_hash(
    stack: Stack, member: str
) -> None:
    created = (await stack.upload(member, jpeg())).json()
    answer = await stack.client.get(
        f"/v1/receipts/{created['receipt_id']}/verification", headers=stack.headers(member)
    )
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert report["ok"] is True, report
    assert report["signature_intact"]
    assert report["signature_valid"]
    assert report["certificate_trusted"]
    assert report["covers_whole_document"]
    assert report["timestamp"] is not None
    assert report["hash_matches_record"] is True
    assert report["level"] == "PAdES-B-LT"


async def test_another_members_receipt_is_not_found(stack: Stack, member: str) -> None:
    created = (await stack.upload(member, jpeg())).json()
    for path in ("", "/verification"):
        answer = await stack.client.get(
            f"/v1/receipts/{created['receipt_id']}{path}", headers=stack.headers("someone-else")
        )
        assert answer.status_code == 404
        assert answer.json()["code"] == "archive.receipt-not-found"


async def test_deleting_a_locked_version_fails_at_the_store(stack: Stack, member: str) -> None:
    created = (await stack.upload(member, jpeg())).json()
    row = await stack.db.pool.fetchrow(
        "SELECT sealed_object, sealed_version FROM receipts WHERE receipt_id = $1::uuid",
        created["receipt_id"],
    )
    with pytest.raises(ClientError) as refused:
        stack.s3.delete_object(
            Bucket=stack.settings.s3_bucket,
            Key=row["sealed_object"],
            VersionId=row["sealed_version"],
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    still = stack.s3.head_object(
        Bucket=stack.settings.s3_bucket, Key=row["sealed_object"], VersionId=row["sealed_version"]
    )
    assert still["ObjectLockMode"] == "COMPLIANCE"
