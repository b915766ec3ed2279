"""The backup bucket on a real S3 endpoint: multipart streams come back byte for byte under an
Object Lock, a bucket without Object Lock is refused, a failed stream leaves no object."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from coffre_testing.stores import S3Endpoint
from devstack.backup.errors import BackupNotFound, BackupStoreError
from devstack.backup.settings import BackupSettings
from devstack.backup.store import PART_BYTES, BackupStore
from pydantic import SecretStr

pytestmark = [pytest.mark.integration, pytest.mark.asyncio]


def _store(s3: S3Endpoint, bucket: str) -> BackupStore:
    return BackupStore(
        BackupSettings(
            bucket=bucket,
            endpoint_url=s3.url,
            region=s3.region,
            access_key_id=SecretStr(s3.access_key_id),
            secret_access_key=SecretStr(s3.secret_access_key),
        )
    )


async def _chunks(data: bytes, size: int = 1 << 20) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def test_a_stream_of_several_parts_comes_back_whole_under_a_lock(
    s3_endpoint: S3Endpoint,
) -> None:
    store = _store(s3_endpoint, f"bk-{uuid.uuid4().hex[:8]}")
    await store.ensure_bucket()
    data = os.urandom(2 * PART_BYTES + 12345)
    until = datetime.now(UTC) + timedelta(days=35)
    stored = await store.put_stream("backups/x/auth.dump.enc", _chunks(data), until)
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    back = b"".join([chunk async for chunk in store.stream("backups/x/auth.dump.enc")])
    assert back == data
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id=s3_endpoint.access_key_id,
        aws_secret_access_key=s3_endpoint.secret_access_key,
        region_name=s3_endpoint.region,
    )
    (version,) = client.list_object_versions(Bucket=store.bucket)["Versions"]
    with pytest.raises(client.exceptions.ClientError):
        client.delete_object(
            Bucket=store.bucket, Key="backups/x/auth.dump.enc", VersionId=version["VersionId"]
        )


async def test_a_bucket_without_object_lock_is_refused(s3_endpoint: S3Endpoint) -> None:
    bucket = f"bk-{uuid.uuid4().hex[:8]}"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id=s3_endpoint.access_key_id,
        aws_secret_access_key=s3_endpoint.secret_access_key,
        region_name=s3_endpoint.region,
    ).create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(BackupStoreError, match="no Object Lock"):
        await _store(s3_endpoint, bucket).ensure_bucket()


async def test_a_stream_that_fails_half_way_leaves_no_object(s3_endpoint: S3Endpoint) -> None:
    store = _store(s3_endpoint, f"bk-{uuid.uuid4().hex[:8]}")
    await store.ensure_bucket()

    async def broken() -> AsyncIterator[bytes]:
        yield os.urandom(PART_BYTES + 1)
        raise RuntimeError("pg_dump died")

    until = datetime.now(UTC) + timedelta(days=1)
    with pytest.raises(RuntimeError, match="pg_dump died"):
        await store.put_stream("backups/y/vault.dump.enc", broken(), until)
    with pytest.raises(BackupNotFound):
        await store.get_bytes("backups/y/vault.dump.enc")
    assert await store.backup_ids() == []
