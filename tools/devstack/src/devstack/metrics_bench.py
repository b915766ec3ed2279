"""What metrics cost on the request hot path: the same request loop with metrics on and off.

Each variant runs in a process of its own (a meter provider, once installed, stays for the
process), alternating off/on twice and keeping each variant's best round, in CPU time of that
process (on a shared machine wall time mostly measures the neighbours): the example service
(``create_service_app``, as every service) takes ``POST /notes`` (one unit of work, outbox row
and commit each) and ``POST /notes`` with an invalid body (a 422 problem: routing, validation,
the problem answer and the HTTP instrumentation, no database); it also times the instrument
calls alone (a histogram record and a counter add). ``METRICS_ENABLED=false`` installs
no meter provider, so every instrument is a no-op; each process reports how many HTTP duration
series its ``/metrics`` exposes, which shows the switch really changed what ran (none when off).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from typing import Any

from coffre_testing.app import running_app
from coffre_testing.example.service import ExampleSettings, create_app
from common.messaging import instruments

ROUNDS = 2


def _settings(database_url: str, bootstrap: str, enabled: bool) -> ExampleSettings:
    return ExampleSettings.model_validate(
        {
            "service_name": "bench-metrics",
            "environment": "test",
            "database_url": database_url,
            "database_schema": f"bench_m_{uuid.uuid4().hex[:6]}",
            "kafka_bootstrap_servers": bootstrap,
            "kafka_idempotent_producer": False,
            "metrics_enabled": enabled,
        }
    )


async def _loop(client: Any, requests: int, body: dict[str, Any], status: int) -> float:
    """CPU microseconds this process spent per request (Postgres runs elsewhere; the machine's
    load inflates wall time, not this)."""
    started = time.process_time()
    for seq in range(requests):
        answer = await client.post("/notes", json=body | ({"seq": seq} if "seq" in body else {}))
        if answer.status_code != status:
            raise RuntimeError(f"unexpected {answer.status_code}: {answer.text[:200]}")
    return (time.process_time() - started) / requests * 1e6


async def measure(
    database_url: str, bootstrap: str, enabled: bool, requests: int
) -> dict[str, Any]:
    """One variant: both request rates and the HTTP series its /metrics exposes."""
    app = create_app(_settings(database_url, bootstrap, enabled))
    owner = f"m-{uuid.uuid4().hex[:8]}"
    async with running_app(app, wait_for_kafka=False) as client:
        good = {"owner": owner, "seq": 0, "text": "bench"}
        await _loop(client, 50, good, 201)  # warm-up: pool, caches, JIT-free paths
        commit_rate = await _loop(client, requests, good, 201)
        invalid_rate = await _loop(client, requests * 4, {"owner": owner}, 422)
        scraped = (await client.get("/metrics")).text
    series = sum(1 for line in scraped.splitlines() if line.startswith("http_server_duration"))
    return {
        "commit": commit_rate, "invalid": invalid_rate, "series": series, "record": _per_record(),
    }  # fmt: skip


def _per_record(calls: int = 50_000) -> float:
    """CPU microseconds (of this process: the machine's load does not inflate them) for one
    histogram record plus one counter add, with the attributes a consumer batch uses."""
    attrs = {"group": "bench"}
    outcome = {"group": "bench", "outcome": "processed"}
    started = time.process_time()
    for _ in range(calls):
        instruments.batch_duration.record(0.001, attrs)
        instruments.consumed.add(1, outcome)
    return (time.process_time() - started) / calls * 1e6


def _child(database_url: str, bootstrap: str, enabled: bool, requests: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "devstack.metrics_bench", database_url, bootstrap,
         "on" if enabled else "off", str(requests)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"metrics bench child failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def metrics_cost(database_url: str, bootstrap: str, requests: int) -> None:
    """Print each request rate with metrics off and on, their ratio, and the series exposed."""
    print(f"== metrics on the request hot path ({requests:,} requests per loop) ==", flush=True)
    best: dict[bool, dict[str, Any]] = {}
    for _ in range(ROUNDS):
        for enabled in (False, True):
            got = _child(database_url, bootstrap, enabled, requests)
            kept = best.setdefault(enabled, got)
            for key in ("commit", "invalid", "record"):
                kept[key] = min(kept[key], got[key])
    off, on = best[False], best[True]
    for key, name in (("commit", "POST /notes, one commit each"),
                      ("invalid", "POST /notes, invalid body (422, no database)")):  # fmt: skip
        print(f"{name}: CPU per request, metrics off {off[key]:,.0f} µs, on {on[key]:,.0f} µs",
              flush=True)  # fmt: skip
        print(f"ratio on/off: {on[key] / off[key]:.3f}", flush=True)
    print(
        f"one histogram record + one counter add (CPU): metrics off {off['record']:.2f} µs, "
        f"on {on['record']:.2f} µs",
        flush=True,
    )
    print(f"HTTP duration series on /metrics: off {off['series']}, on {on['series']}", flush=True)


if __name__ == "__main__":
    url, servers, mode, count = sys.argv[1:5]
    figures = asyncio.run(measure(url, servers, mode == "on", int(count)))
    print(json.dumps(figures), flush=True)
