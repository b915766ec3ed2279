"""The bench's HTTP load client, run as its own process so it never shares the server's event
loop (it still shares the machine's two cores: its CPU per request is printed beside the rate).

It keeps ``callers`` HTTP/1.1 keep-alive connections, each with one request in flight, shared
out round-robin among ``ports`` (the replicas), and sends pre-built requests round-robin for
``seconds``. Reads a JSON plan on stdin
(``{host, ports, callers, seconds, requests: [[method, path, body], …], headers: {…}}``) and
writes ``{done, statuses, elapsed, cpu_seconds, mean_ms, p50_ms, p99_ms}`` on stdout. A raw
socket client and not httpx: it must cost far less than the server per request, or it would be
measured.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is a vault dependency
    uvloop = None  # type: ignore[assignment]


def build(plan: dict[str, Any]) -> list[bytes]:
    headers = "".join(f"{k}: {v}\r\n" for k, v in plan.get("headers", {}).items())
    built = []
    for method, path, body in plan["requests"]:
        data = body.encode()
        built.append(
            f"{method} {path} HTTP/1.1\r\nhost: vault\r\n{headers}"
            f"content-type: application/json\r\ncontent-length: {len(data)}\r\n\r\n".encode()
            + data
        )
    return built


async def one_caller(
    plan: dict[str, Any], requests: list[bytes], offset: int, deadline: float
) -> tuple[int, Counter[int], list[float]]:
    ports = plan["ports"]
    reader, writer = await asyncio.open_connection(plan["host"], ports[offset % len(ports)])
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    i, stride, clock = offset, plan["callers"], time.perf_counter
    try:
        while clock() < deadline:
            start = clock()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = _content_length(head)
            await reader.readexactly(length)
            latencies.append(clock() - start)
            statuses[int(head[9:12])] += 1
            i += stride
    finally:
        writer.close()
    return len(latencies), statuses, latencies


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        raise RuntimeError("the bench client needs a content-length in every response")
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end])


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    requests = build(plan)
    cpu, start = time.process_time(), time.perf_counter()
    deadline = start + plan["seconds"]
    results = await asyncio.gather(
        *(one_caller(plan, requests, n, deadline) for n in range(plan["callers"]))
    )
    elapsed = time.perf_counter() - start
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    for _, counted, timed in results:
        statuses.update(counted)
        latencies.extend(timed)
    latencies.sort()

    def pct(p: float) -> float:
        return 1e3 * latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

    return {
        "done": len(latencies),
        "statuses": {str(k): v for k, v in statuses.items()},
        "elapsed": elapsed,
        "cpu_seconds": time.process_time() - cpu,
        "mean_ms": 1e3 * sum(latencies) / len(latencies) if latencies else 0.0,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    plan = json.load(sys.stdin)
    if uvloop is not None:
        uvloop.install()
    json.dump(asyncio.run(run(plan)), sys.stdout)


if __name__ == "__main__":
    main()
