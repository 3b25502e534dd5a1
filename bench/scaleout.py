"""How inferq's echo scales out: workers draining a queue, gateways taking submits.

- :func:`measure`: submits/s under ``wrk`` (64 connections split over the gateways), then
  how fast the workers drain what was submitted: one more request is sent after the load
  and long-polled; one token's queue is FIFO, so when it completes everything before it has
  run (to within the one request another worker may still hold).
- :func:`drain`: the rate at which the workers run requests that each take ``delay_s``
  (a model of 10 ms, say), queued at once: whether more workers run more, or the queue
  serialises them.
- :func:`gateway_submits`: submits/s through 1, 2, 3 ... gateways with no workers beside
  them, each gateway a process of its own on the same store.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import wrk
from tests.conftest import REDIS_URL, Server

ASYNC = {"X-OctoAI-Async": "1"}
#: What the batch route takes in one call (API.md).
BATCH = 1000


def start(backend: str, tmp: Path, gateways: int, workers: int = 2) -> list[Server]:
    """``gateways`` gateways on ``backend``; the first also runs ``workers`` echo workers
    (none when 0)."""
    own = ["--workers", str(workers)] if workers else ["--no-workers"]
    first = Server(backend, ["--endpoints", "echo", *own], tmp / "serve-0.log")
    first.start(("echo",) if workers else ())
    others = [
        Server(
            backend, ["--endpoints", "echo", "--no-workers"], tmp / f"serve-{i}.log", token=first.token
        ).start(())
        for i in range(1, gateways)
    ]
    return [first, *others]


def stop(servers: list[Server], backend: str) -> None:
    for server in servers:
        server.stop()
    forget(backend)


def submits(servers: list[Server], seconds: int) -> dict[str, float]:
    """Submits/s under wrk across the gateways, and how many were accepted."""
    per_gateway = 64 // len(servers)
    with ThreadPoolExecutor(len(servers)) as pool:
        loads = list(pool.map(lambda s: wrk(f"{s.url}/echo/predict", seconds, s.token, per_gateway), servers))
    return {
        "submits_per_s": sum(load["rps"] for load in loads),
        "submitted": sum(load["requests"] for load in loads),
    }


def measure(servers: list[Server], seconds: int) -> dict[str, float]:
    """Submits/s under wrk across the gateways, then how fast the workers drained them."""
    started = time.perf_counter()
    load = submits(servers, seconds)
    _wait_for_last(servers[0], {"last": True})
    return {
        "submits_per_s": load["submits_per_s"],
        "end_to_end_per_s": (load["submitted"] + 1) / (time.perf_counter() - started),
    }


def drain(server: Server, requests: int, delay_s: float) -> float:
    """Requests/s run of ``requests`` echo requests taking ``delay_s`` each, queued through
    the batch route at once: from the first submit to the last one's end."""
    started = time.perf_counter()
    with server.http() as http:
        for first in range(0, requests - 1, BATCH):
            inputs = [{"delay_s": delay_s, "i": i} for i in range(first, min(first + BATCH, requests - 1))]
            http.post("/echo/batch", json={"inputs": inputs}, headers=ASYNC).raise_for_status()
    _wait_for_last(server, {"delay_s": delay_s, "last": True})
    return requests / (time.perf_counter() - started)


def gateway_submits(backend: str, tmp: Path, seconds: int, counts: tuple[int, ...]) -> dict[int, float]:
    """Submits/s through each number of gateways in ``counts``, a fresh store each time."""
    rates = {}
    for count in counts:
        servers = start(backend, tmp, count, workers=0)
        try:
            rates[count] = submits(servers, seconds)["submits_per_s"]
        finally:
            stop(servers, backend)
    return rates


def _wait_for_last(server: Server, inputs: dict[str, object]) -> None:
    """Submit one more request and wait until it has completed."""
    with server.http() as http:
        last = http.post("/echo/predict", json=inputs, headers=ASYNC).json()
        while http.get(last["poll_url"], params={"wait": 60}).json()["status"] != "completed":
            pass


def forget(backend: str) -> None:
    """Delete a Redis backend's keys (SQLite files go with their temporary directory)."""
    if not backend.startswith("redis"):
        return
    import redis

    prefix = backend.rpartition("prefix=")[2]
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()
