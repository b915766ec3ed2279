"""Where the vault server's time goes, stage by stage, from a py-spy recording of the process.

py-spy (a sampling profiler from PyPI, a dev dependency) records the server while the load runs;
each sample's stack is walked from the innermost frame outwards and charged to the first frame
that names a stage (the standard library, asyncpg and cryptography name none: they count for
whoever called them). Shares of samples times the server's CPU per request give µs per stage.
"""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from pathlib import Path

# (stage, markers in a frame's file path), in the order a frame is tested against them.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("service-token verification (Ed25519 JWT)", ("/joserfc/", "/common/security/")),
    (
        "audit appender: batch write to Postgres",
        ("vault/adapters/pg_audit_batches", "vault/service/appender"),
    ),
    ("audit chain: canonical JSON + SHA-256", ("vault/domain/audit.py",)),
    (
        "subject state reads (cache misses, Postgres)",
        ("vault/service/subjects", "vault/adapters/pg_"),
    ),
    (
        "lean route edge: headers, body, answer bytes (vault.entrypoints.lean)",
        ("vault/entrypoints/lean", "vault/entrypoints/answers", "bench/http_server"),
    ),
    ("unwrap: policy, token parse, AES-GCM, base64", ("/src/vault/", "/site-packages/vault/")),
    (
        "tracing and HTTP metrics (OpenTelemetry, common.http.telemetry)",
        (
            "/opentelemetry/",
            "/prometheus_client/",
            "/common/http/telemetry",
            "/common/http_metrics",
        ),
    ),
    ("request/response validation (pydantic)", ("/pydantic/", "/pydantic_core/")),
    ("routing, dependencies, middleware (FastAPI/Starlette)", ("/fastapi/", "/starlette/")),
    ("HTTP server (uvicorn, httptools, socket writes)", ("/uvicorn/", "/httptools/", "/uvloop/")),
    (
        "Kafka consumers, outbox relay, sweeps (background)",
        ("/aiokafka/", "/faststream/", "/common/messaging/", "/common/db/"),
    ),
]
OTHER = "event loop, other"


def stage_of(stack: str) -> str:
    """The stage a collapsed stack (``outer;…;inner``) is charged to."""
    for frame in reversed(stack.split(";")):
        for stage, markers in STAGES:
            if any(marker in frame for marker in markers):
                return stage
    return OTHER


def start_recording(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy recording ``pid`` for ``seconds`` into ``output`` (raw collapsed stacks)."""
    spy = shutil.which("py-spy") or str(Path(__file__).parents[3] / ".venv" / "bin" / "py-spy")
    if not Path(spy).exists():
        return None
    command = [
        spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))), "--rate", "250",
        "--nonblocking", "--format", "raw", "--full-filenames", "--output", str(output),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def breakdown(recording: Path) -> Counter[str]:
    samples: Counter[str] = Counter()
    for line in recording.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        innermost = stack.rpartition(";")[2]
        if innermost.startswith("_worker (") and "concurrent/futures/thread.py" in innermost:
            continue  # an executor thread waiting for work, which py-spy counts as running
        if stack and count.isdigit():
            samples[stage_of(stack)] += int(count)
    return samples


def print_breakdown(label: str, recording: Path, cpu_us_per_request: float) -> None:
    samples = breakdown(recording) if recording.exists() else Counter[str]()
    total = sum(samples.values())
    if not total:
        print(f"{label}: no py-spy samples (py-spy missing or not permitted)")
        return
    print(f"{label} (py-spy, {total:,} samples; µs = share x server CPU per request):")
    for stage, count in samples.most_common():
        share = count / total
        print(f"  {100 * share:5.1f}%  {share * cpu_us_per_request:7,.0f} µs  {stage}")
