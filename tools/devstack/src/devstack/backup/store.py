"""The backup bucket over S3 (boto3, the archive's client style), with Object Lock.

Rules:
- The bucket is created with Object Lock (so versioning) when missing; a bucket without Object
  Lock is refused: no backup is written where it could be deleted or overwritten.
- Every object is written with a COMPLIANCE retention until the backup's ``retain_until`` (a
  multipart upload's retention is set again on the completed version, as some stores drop it
  from the upload's request), and the bucket's default retention is the same number of days:
  the store itself refuses to delete a locked version. Expired backups are left to the bucket's
  lifecycle rule (set at creation: objects expire a day after the retention).
- Dumps are uploaded in multipart parts as they are produced (memory holds one part), so a dump
  never needs a local file.
- Any transport or service error is ``BackupStoreError`` (``BackupNotFound`` for a missing key).

boto3 is synchronous: calls run in worker threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from devstack.backup.errors import BackupNotFound, BackupStoreError
from devstack.backup.manifest import PREFIX
from devstack.backup.settings import BackupSettings

PART_BYTES = 8 << 20
READ_BYTES = 1 << 20


@dataclass(frozen=True)
class Stored:
    size: int
    sha256: str


class BackupStore:
    def __init__(self, settings: BackupSettings) -> None:
        self.bucket = settings.bucket
        self._region = settings.region
        self._retention_days = settings.retention_days
        secret = settings.secret_access_key
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.endpoint_url,
            region_name=settings.region,
            aws_access_key_id=settings.access_key_id.get_secret_value()
            if settings.access_key_id
            else None,
            aws_secret_access_key=secret.get_secret_value() if secret else None,
            config=Config(
                retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=3, read_timeout=60
            ),
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, method), **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchVersion", "404"):
                raise BackupNotFound(f"no object {kwargs.get('Key', '')!r} in the bucket") from None
            raise BackupStoreError(f"the object store refused {method} ({code})", code) from None
        except BotoCoreError as exc:
            raise BackupStoreError(f"the object store call failed ({type(exc).__name__})") from None

    async def ensure_bucket(self) -> None:
        try:
            lock = await self._call("get_object_lock_configuration", Bucket=self.bucket)
        except BackupStoreError as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                lock = {}
            elif exc.code == "NoSuchBucket":
                await self._create_bucket()
                lock = await self._call("get_object_lock_configuration", Bucket=self.bucket)
            else:
                raise
        if lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise BackupStoreError(f"bucket {self.bucket!r} has no Object Lock: refused")

    async def _create_bucket(self) -> None:
        await self._call(
            "create_bucket",
            Bucket=self.bucket,
            ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": self._region},
        )
        await self._call(
            "put_object_lock_configuration",
            Bucket=self.bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": self._retention_days}},
            },
        )
        days = self._retention_days + 1
        await self._call(
            "put_bucket_lifecycle_configuration",
            Bucket=self.bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-backups-after-retention",
                        "Filter": {"Prefix": PREFIX},
                        "Status": "Enabled",
                        "Expiration": {"Days": days},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                    }
                ]
            },
        )

    def _lock(self, retain_until: datetime) -> dict[str, Any]:
        return {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": retain_until}

    async def put_bytes(self, key: str, data: bytes, retain_until: datetime) -> None:
        await self._call(
            "put_object",
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",
            **self._lock(retain_until),
        )

    async def put_stream(
        self, key: str, chunks: AsyncIterator[bytes], retain_until: datetime
    ) -> Stored:
        """Multipart upload of whatever ``chunks`` yields; aborted if anything fails."""
        upload = await self._call(
            "create_multipart_upload",
            Bucket=self.bucket,
            Key=key,
            ContentType="application/octet-stream",
            ChecksumAlgorithm="SHA256",
            **self._lock(retain_until),
        )
        upload_id = upload["UploadId"]
        try:
            parts, stored = await self._upload_parts(key, upload_id, chunks)
            done = await self._call(
                "complete_multipart_upload",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            await asyncio.shield(self._abort(key, upload_id))
            raise
        if not done.get("VersionId"):
            raise BackupStoreError("the object store did not version the upload (no Object Lock?)")
        await self._call(
            "put_object_retention",
            Bucket=self.bucket,
            Key=key,
            VersionId=done["VersionId"],
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until},
        )
        return stored

    async def _upload_parts(
        self, key: str, upload_id: str, chunks: AsyncIterator[bytes]
    ) -> tuple[list[dict[str, Any]], Stored]:
        digest, size = hashlib.sha256(), 0
        parts: list[dict[str, Any]] = []
        buffer = bytearray()

        async def send(body: bytes) -> None:
            answer = await self._call(
                "upload_part",
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=len(parts) + 1,
                Body=body,
                ChecksumAlgorithm="SHA256",
            )
            parts.append(
                {
                    "PartNumber": len(parts) + 1,
                    "ETag": answer["ETag"],
                    **(
                        {"ChecksumSHA256": answer["ChecksumSHA256"]}
                        if "ChecksumSHA256" in answer
                        else {}
                    ),
                }
            )

        async for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            buffer += chunk
            if len(buffer) >= PART_BYTES:
                await send(bytes(buffer))
                buffer.clear()
        if buffer or not parts:
            await send(bytes(buffer))
        return parts, Stored(size, digest.hexdigest())

    async def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(BackupStoreError):
            await self._call(
                "abort_multipart_upload", Bucket=self.bucket, Key=key, UploadId=upload_id
            )

    async def get_bytes(self, key: str) -> bytes:
        answer = await self._call("get_object", Bucket=self.bucket, Key=key)
        body = answer["Body"]
        try:
            return bytes(await asyncio.to_thread(body.read))
        finally:
            body.close()

    async def stream(self, key: str) -> AsyncIterator[bytes]:
        answer = await self._call("get_object", Bucket=self.bucket, Key=key)
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, READ_BYTES):
                yield chunk
        except BotoCoreError as exc:
            raise BackupStoreError(f"reading {key!r} failed ({type(exc).__name__})") from None
        finally:
            body.close()

    async def backup_ids(self) -> list[str]:
        """Every backup that has a manifest (a backup that failed half-way has none), oldest
        first."""
        found: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = await self._call("list_objects_v2", Bucket=self.bucket, Prefix=PREFIX, **token)
            for item in page.get("Contents", []):
                backup_id, _, name = item["Key"][len(PREFIX) :].partition("/")
                if name == "manifest.json":
                    found.append(backup_id)
            if not page.get("IsTruncated"):
                return sorted(found)
            token = {"ContinuationToken": page["NextContinuationToken"]}
