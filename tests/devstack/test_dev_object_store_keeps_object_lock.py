"""The dev stack's S3 endpoint keeps a bucket's Object Lock across its restarts, so the archive
and the daily backups (which refuse a bucket without it) keep working after `make run` restarts."""

from __future__ import annotations

from pathlib import Path

import pytest
from devstack.kafka import EmbeddedS3
from devstack.ports import free_port
from devstack.s3store import s3_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_locked_bucket_comes_back_locked_with_its_objects_after_a_restart(tmp_path: Path) -> None:
    store = EmbeddedS3(free_port(), data_dir=tmp_path / "s3", log_file=tmp_path / "s3.log")
    store.start()
    try:
        client = s3_client(store.endpoint)
        client.create_bucket(
            Bucket="coffre-backups",
            ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
        )
        client.put_object(Bucket="coffre-backups", Key="backups/x/manifest.json", Body=b"{}")
    finally:
        store.stop()
    store.start()
    try:
        client = s3_client(store.endpoint)
        lock = client.get_object_lock_configuration(Bucket="coffre-backups")
        assert lock["ObjectLockConfiguration"]["ObjectLockEnabled"] == "Enabled"
        body = client.get_object(Bucket="coffre-backups", Key="backups/x/manifest.json")["Body"]
        assert body.read() == b"{}"
        with pytest.raises(client.exceptions.ClientError):
            client.get_object_lock_configuration(Bucket=store.bucket)  # the broker's: no lock
    finally:
        store.stop()
