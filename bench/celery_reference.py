"""Celery 5 with Redis (broker and result backend) running a no-op task, measured like inferq.

``.delay()`` per second from one process, end to end per second (delay N, then get every
result), and the round trip of one task at a time (delay → get), p50 and p99. A worker
runs with the prefork pool at the given concurrency, as Celery is deployed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from bench.celery_app import BROKER, app, noop
from bench.common import percentile


@contextmanager
def celery_worker(concurrency: int) -> Iterator[None]:
    redis.Redis.from_url(BROKER).flushdb()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_app",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        noop.delay({"warm": True}).get(timeout=60)
        yield
    finally:
        # SIGKILL to the pool's whole group: a warm shutdown would first run the backlog
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        redis.Redis.from_url(BROKER).flushdb()


def delays_per_s(seconds: float) -> float:
    deadline = time.perf_counter() + seconds
    start, sent = time.perf_counter(), 0
    while time.perf_counter() < deadline:
        noop.delay({"text": "hello", "n": sent})
        sent += 1
    return sent / (time.perf_counter() - start)


def end_to_end_per_s(n: int) -> float:
    start = time.perf_counter()
    results = [noop.delay({"n": i}) for i in range(n)]
    for result in results:
        result.get(timeout=120)
    return n / (time.perf_counter() - start)


def round_trips(n: int) -> dict[str, float]:
    trips = []
    for i in range(n):
        start = time.perf_counter()
        noop.delay({"i": i}).get(timeout=30)
        trips.append(time.perf_counter() - start)
    return {
        "round_trip_p50_ms": percentile(trips, 50) * 1000,
        "round_trip_p99_ms": percentile(trips, 99) * 1000,
    }


def measure(seconds: float, n: int, trips: int) -> dict[str, Any]:
    """Every Celery figure, with one and with two worker processes."""
    figures: dict[str, Any] = {}
    with celery_worker(1):
        figures.update(round_trips(trips))
        figures["end_to_end_per_s_1_worker"] = end_to_end_per_s(n)
    with celery_worker(2):
        figures["end_to_end_per_s_2_workers"] = end_to_end_per_s(n)
        figures["submits_per_s"] = delays_per_s(seconds)
    app.backend.client.close()
    return figures
