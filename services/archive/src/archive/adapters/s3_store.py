"""The object store over S3 (boto3), with Object Lock in COMPLIANCE mode.

Rules:
- The bucket is created with Object Lock enabled (and so versioning) when missing; a bucket
  without Object Lock is refused: nothing is written to it. If the store is down at start,
  the check happens again before the first write.
- Every object is written with a COMPLIANCE retention until its retention date and read back
  by version id: the store itself refuses to delete or overwrite a locked version.
- This adapter never shortens, removes or reads back a retention (some stores, moto among them,
  do not enforce the first or lack the last): the retention date lives in our own records.
  `extend_lock` moves a retention later only (a resumed receipt's adopted version).
- Any transport or service error is `StoreUnavailable`; a missing version is `StoreMissing`.

boto3 is synchronous: calls run in worker threads. (aioboto3 pins its own botocore, which
fights the boto3 the workspace already locks; a thread per call costs ~0.1 ms here.)
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from archive.domain.errors import StoreUnavailable


class StoreMissing(StoreUnavailable):
    code = "archive.object-missing"
    status = 404


class S3ObjectStore:
    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None,
        region: str,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        create_bucket: bool = True,
    ) -> None:
        self._bucket = bucket
        self._bucket_ready = False
        self._create = create_bucket
        self._region = region
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"},
                connect_timeout=3,
                read_timeout=20,
                max_pool_connections=20,
            ),
        )

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(getattr(self._client, method), **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "NoSuchVersion", "404"):
                raise StoreMissing("the stored object is missing") from None
            raise StoreUnavailable(f"the object store refused the call ({code})") from None
        except BotoCoreError as exc:
            raise StoreUnavailable(
                f"the object store is unreachable ({type(exc).__name__})"
            ) from None

    async def ensure_bucket(self) -> None:
        try:
            lock = await self._call("get_object_lock_configuration", Bucket=self._bucket)
        except StoreUnavailable:
            if not self._create:
                raise
            await self._call(
                "create_bucket",
                Bucket=self._bucket,
                ObjectLockEnabledForBucket=True,
                CreateBucketConfiguration={"LocationConstraint": self._region},
            )
            lock = await self._call("get_object_lock_configuration", Bucket=self._bucket)
        enabled = lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled")
        if enabled != "Enabled":
            raise StoreUnavailable("the receipts bucket has no Object Lock")
        self._bucket_ready = True

    async def put_locked(self, key: str, data: bytes, retain_until: datetime) -> str:
        if not self._bucket_ready:
            await self.ensure_bucket()
        answer = await self._call(
            "put_object",
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType="application/octet-stream",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=retain_until,
        )
        version = answer.get("VersionId")
        if not version:
            raise StoreUnavailable("the object store did not version the object")
        return str(version)

    async def versions(self, key: str) -> list[str]:
        if not self._bucket_ready:  # a store that was down at start: its bucket may be missing
            await self.ensure_bucket()
        answer = await self._call("list_object_versions", Bucket=self._bucket, Prefix=key)
        found = [v for v in answer.get("Versions", []) if v.get("Key") == key]
        found.sort(key=lambda v: v["LastModified"], reverse=True)
        return [str(v["VersionId"]) for v in found]

    async def extend_lock(self, key: str, version: str, retain_until: datetime) -> None:
        """Only used with a date later than the one the version was written with."""
        await self._call(
            "put_object_retention",
            Bucket=self._bucket,
            Key=key,
            VersionId=version,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until},
        )

    async def get(self, key: str, version: str) -> bytes:
        answer = await self._call("get_object", Bucket=self._bucket, Key=key, VersionId=version)
        body = answer["Body"]
        try:
            return bytes(await asyncio.to_thread(body.read))
        finally:
            body.close()
