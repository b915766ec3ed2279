"""A local S3 endpoint (moto) whose objects survive its restarts: ``python -m devstack.s3store``.

Rules: moto keeps objects in memory only, so this process mirrors every bucket to a folder
(``<data-dir>/<bucket>/<url-quoted key>``): at start it uploads what the folder holds, then every
``--interval`` seconds it writes the objects whose ETag changed and removes the files of deleted
objects (each file is replaced atomically), and it takes a last snapshot on SIGTERM or SIGINT.
Which buckets have Object Lock is kept in ``<data-dir>/.buckets.json``, and those buckets come
back with Object Lock (the archive and the backups refuse a bucket without it); the retention
dates of their objects and older versions are not mirrored.
A clean stop loses nothing; a SIGKILL of this process loses at most the last interval. Without
``--data-dir`` it is a plain in-memory moto server. It listens on loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import boto3

READY = "s3store ready; objects restored:"
BUCKETS = ".buckets.json"
CREDENTIALS = {
    "aws_access_key_id": "local",
    "aws_secret_access_key": "local",
    "region_name": "eu-west-1",
}


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)


class FolderMirror:
    """Keeps ``folder`` equal to the endpoint's buckets, writing only what changed."""

    def __init__(self, endpoint: str, folder: Path) -> None:
        self.client = s3_client(endpoint)
        self.folder = folder
        self._etags: dict[tuple[str, str], str] = {}
        self._locked: set[str] = set()
        self._checked: set[str] = set()

    def restore(self) -> int:
        """Upload every mirrored object in key order (the order S3 lists them, which a reader
        paging with start-after relies on); return how many."""
        count = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self._locked = self._read_locked()
        for bucket_dir in sorted(p for p in self.folder.iterdir() if p.is_dir()):
            bucket = bucket_dir.name
            self.client.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["region_name"]},
                **({"ObjectLockEnabledForBucket": True} if bucket in self._locked else {}),
            )
            for key, file in sorted((unquote(f.name), f) for f in bucket_dir.iterdir()):
                if file.name.startswith(".tmp-"):
                    file.unlink()
                    continue
                answer = self.client.put_object(Bucket=bucket, Key=key, Body=file.read_bytes())
                self._etags[(bucket, key)] = answer["ETag"]
                count += 1
        return count

    def snapshot(self) -> int:
        """Write changed objects and drop deleted ones; return how many files changed."""
        seen: set[tuple[str, str]] = set()
        changed = 0
        for bucket in (b["Name"] for b in self.client.list_buckets().get("Buckets", [])):
            (self.folder / bucket).mkdir(parents=True, exist_ok=True)
            self._note_lock(bucket)
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            for item in (obj for page in pages for obj in page.get("Contents", [])):
                ident = (bucket, item["Key"])
                seen.add(ident)
                if self._etags.get(ident) != item["ETag"] and self._write(bucket, item["Key"]):
                    changed += 1
        for bucket, key in set(self._etags) - seen:
            (self.folder / bucket / quote(key, safe="")).unlink(missing_ok=True)
            del self._etags[(bucket, key)]
            changed += 1
        return changed

    def _read_locked(self) -> set[str]:
        try:
            return set(json.loads((self.folder / BUCKETS).read_text()).get("object_lock", []))
        except (OSError, ValueError):
            return set()

    def _note_lock(self, bucket: str) -> None:
        """Remember (once per bucket) whether it has Object Lock."""
        if bucket in self._checked:
            return
        self._checked.add(bucket)
        try:
            lock = self.client.get_object_lock_configuration(Bucket=bucket)
        except self.client.exceptions.ClientError:
            return
        if lock.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled":
            self._locked.add(bucket)
            target = self.folder / BUCKETS
            temporary = target.with_name(f".tmp-{target.name}")
            temporary.write_text(json.dumps({"object_lock": sorted(self._locked)}))
            os.replace(temporary, target)

    def _write(self, bucket: str, key: str) -> bool:
        try:
            answer = self.client.get_object(Bucket=bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return False
        target = self.folder / bucket / quote(key, safe="")
        temporary = target.with_name(f".tmp-{target.name}")
        temporary.write_bytes(answer["Body"].read())
        os.replace(temporary, target)
        self._etags[(bucket, key)] = answer["ETag"]
        return True


def serve(port: int, data_dir: Path | None, interval: float) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    mirror = FolderMirror(f"http://127.0.0.1:{port}", data_dir) if data_dir else None
    restored = mirror.restore() if mirror is not None else 0
    print(f"{READY} {restored}", flush=True)
    while not stopping.wait(interval):
        if mirror is not None:
            mirror.snapshot()
    if mirror is not None:
        mirror.snapshot()
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="devstack.s3store", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    serve(args.port, args.data_dir, args.interval)


if __name__ == "__main__":
    main()
