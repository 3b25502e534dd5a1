"""``python -m bench.scaleout``: echo through SQLite, and through one and two gateways on Redis.

Every configuration has two echo workers. For each, in the same run:

- submits/s: ``wrk`` POSTs asynchronous requests for ``--seconds`` (64 connections in all,
  split evenly over the gateways);
- end to end requests/s: how fast the workers drain what was submitted: one more request is
  sent after the load and long-polled; the queue is FIFO, so when it completes everything
  before it has run (to within the one request the other worker may still hold).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import BENCH, wrk
from tests.conftest import REDIS_URL, Server

ASYNC = {"X-OctoAI-Async": "1"}


def start(backend: str, tmp: Path, gateways: int, workers: int = 2) -> list[Server]:
    """``gateways`` gateways on ``backend``; the first also runs ``workers`` echo workers."""
    args = ["--endpoints", "echo", "--workers", str(workers)]
    first = Server(backend, args, tmp / "serve-0.log").start(("echo",))
    others = [
        Server(
            backend, ["--endpoints", "echo", "--no-workers"], tmp / f"serve-{i}.log", token=first.token
        ).start()
        for i in range(1, gateways)
    ]
    return [first, *others]


def measure(servers: list[Server], seconds: int) -> dict[str, float]:
    """Submits/s under wrk across the gateways, then how fast the workers drained them."""
    per_gateway = 64 // len(servers)
    started = time.perf_counter()
    with ThreadPoolExecutor(len(servers)) as pool:
        loads = list(pool.map(lambda s: wrk(f"{s.url}/echo/predict", seconds, s.token, per_gateway), servers))
    submitted = sum(load["requests"] for load in loads)
    with servers[0].http() as http:
        last = http.post("/echo/predict", json={"last": True}, headers=ASYNC).json()
        while http.get(last["poll_url"], params={"wait": 60}).json()["status"] != "completed":
            pass
    drained = time.perf_counter()
    return {
        "submits_per_s": sum(load["rps"] for load in loads),
        "end_to_end_per_s": (submitted + 1) / (drained - started),
    }


def one_run(seconds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        configs = {
            "sqlite": (f"sqlite:///{tmp}/bench.db", 1),
            "redis, 1 gateway": (f"{REDIS_URL}?prefix=bench-{secrets.token_hex(4)}", 1),
            "redis, 2 gateways": (f"{REDIS_URL}?prefix=bench-{secrets.token_hex(4)}", 2),
        }
        for name, (backend, gateways) in configs.items():
            servers = start(backend, Path(tmp), gateways)
            try:
                results[name] = measure(servers, seconds)
            finally:
                for server in servers:
                    server.stop()
                forget(backend)
    return results


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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "scaleout.json")
    args = parser.parse_args()
    runs = [one_run(args.seconds) for _ in range(args.runs)]
    print(f"{'configuration':<20}{'submits/s (min-max)':>28}{'end to end/s (min-max)':>28}")
    for name in runs[0]:
        cells = []
        for metric in ("submits_per_s", "end_to_end_per_s"):
            values = [run[name][metric] for run in runs]
            cells.append(f"{statistics.median(values):.0f} ({min(values):.0f}-{max(values):.0f})")
        print(f"{name:<20}{cells[0]:>28}{cells[1]:>28}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
