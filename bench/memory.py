"""``python -m bench memory``: the gateway's memory as its queue grows to 100,000 pending requests.

``inferq serve --no-workers`` runs the gateway alone, so nothing drains the queue; uvicorn
runs inside the serve process itself (``inferq/serve.py``), so its RSS (``VmRSS`` of
``/proc/<pid>/status``) is the gateway's. For each backend, on a fresh store:

- warm-up: ``wrk`` submits for a few seconds, status reads and long polls on them, and a
  separate ``inferq worker`` that drains them and stops, so every path has run once and the
  queue is back to 0 pending;
- then RSS at 0, half of ``--pending`` and ``--pending`` requests pending. Each level is
  reached by ``wrk`` bursts (64 connections; the submits are not measured) and topped up to
  the exact count by single submits; before each reading, status reads of the newest
  requests and long polls that time out on them, so that a per-request cache would show.

Reported: RSS at each level, its ratio to RSS at 0, and the growth per 1,000 pending
between the two non-zero levels (where warm-up effects are long past).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import store_url, summarize, wrk
from bench.scaleout import forget
from tests.conftest import Server, wait_until

ASYNC = {"X-OctoAI-Async": "1"}
BODY = {"text": "hello", "n": 1}
#: Submits/s assumed before the first wrk burst: more than this machine's HTTP ceiling.
FIRST_BURST = 8_000
#: Parallel single submits that top a level up to its exact count.
TOP_UP_THREADS = 8
#: Long polls held at once before each reading; they time out after LONG_POLL_S.
LONG_POLLS = 16
LONG_POLL_S = 0.5
STATUS_READS = 200


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` now."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def queue(http: httpx.Client) -> dict[str, Any]:
    """The echo endpoint's entry of ``GET /v1/endpoints`` (pending, running, workers)."""
    entries = http.get("/v1/endpoints").raise_for_status().json()["endpoints"]
    entry: dict[str, Any] = next(e for e in entries if e["name"] == "echo")
    return entry


def settled_pending(http: httpx.Client) -> int:
    """Pending requests once the count stops moving: submits wrk sent just before it
    stopped may still be committing."""
    last, now = -1, queue(http)["pending"]
    while now != last:
        time.sleep(0.2)
        last, now = now, queue(http)["pending"]
    return int(now)


def fill(server: Server, http: httpx.Client, target: int) -> None:
    """Submit until exactly ``target`` requests are pending: one-second-or-longer wrk bursts
    while they cannot pass it at the last burst's rate, then single submits for the rest."""
    rate = float(FIRST_BURST)  # a guess until the first burst has measured it
    missing = target - settled_pending(http)
    while missing > 1.2 * rate:
        rate = wrk(f"{server.url}/echo/predict", max(1, int(0.8 * missing / rate)), server.token)["rps"]
        missing = target - settled_pending(http)
    assert missing >= 0, f"{-missing} more requests pending than the {target} wanted"
    with ThreadPoolExecutor(TOP_UP_THREADS) as pool:
        list(
            pool.map(
                lambda _: http.post("/echo/predict", json=BODY, headers=ASYNC).raise_for_status(),
                range(missing),
            )
        )


def probe(http: httpx.Client) -> None:
    """Status reads of the newest requests and long polls on them (which time out while pending)."""
    ids = [
        state["response_id"] for state in http.get("/v1/requests", params={"limit": 200}).json()["results"]
    ]
    for i in range(STATUS_READS):
        http.get(f"/v1/requests/{ids[i % len(ids)]}").raise_for_status()
    with ThreadPoolExecutor(LONG_POLLS) as pool:
        polls = pool.map(
            lambda rid: http.get(f"/v1/requests/{rid}", params={"wait": LONG_POLL_S}), ids[:LONG_POLLS]
        )
        for answer in polls:
            answer.raise_for_status()


def warm_up(server: Server, http: httpx.Client) -> None:
    """Run every path once, then drain the queue with a worker of our own and stop it."""
    wrk(f"{server.url}/echo/predict", 2, server.token)
    probe(http)
    worker = subprocess.Popen(
        [sys.executable, "-m", "inferq", "worker", "--backend", server.backend, "--endpoint", "echo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(
            lambda: (q := queue(http))["pending"] == q["running"] == 0, 300, "the warm-up queue to drain"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    probe(http)


def one_run(backend: str, tmp: Path, pending: int) -> dict[str, float]:
    """RSS in MB at 0, ``pending // 2`` and ``pending`` requests pending, from a fresh gateway."""
    server = Server(backend, ["--endpoints", "echo", "--no-workers"], tmp / "serve.log").start()
    assert server.proc is not None
    try:
        assert not server.workers(), "--no-workers: the serve process is the gateway and has no children"
        figures: dict[str, float] = {}
        with server.http(limits=httpx.Limits(max_connections=32)) as http:
            warm_up(server, http)
            for level in (0, pending // 2, pending):
                fill(server, http, level)
                probe(http)
                assert queue(http)["pending"] == level
                figures[f"rss_mb_at_{level}"] = rss_bytes(server.proc.pid) / 2**20
        return figures
    finally:
        server.stop()
        forget(backend)


def run(backends: list[str], runs: int, pending: int) -> dict[str, Any]:
    """``runs`` rounds over ``backends``; the raw figures and the table's rows."""
    results: list[dict[str, dict[str, float]]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(
                {kind: one_run(store_url(kind, Path(tmp)), Path(tmp), pending) for kind in backends}
            )
    rows = []
    half = pending // 2
    for kind in backends:
        series = [result[kind] for result in results]
        base = [figures["rss_mb_at_0"] for figures in series]
        rows.append(summarize(kind, "gateway_rss_mb_at_0", base))
        for level in (half, pending):
            values = [figures[f"rss_mb_at_{level}"] for figures in series]
            ratios = [value / at_0 for value, at_0 in zip(values, base, strict=True)]
            rows.append(summarize(kind, f"gateway_rss_mb_at_{level}", values, {"rss_at_0": ratios}))
        growth = [
            (f[f"rss_mb_at_{pending}"] - f[f"rss_mb_at_{half}"]) * 1024 / (pending - half) * 1000
            for f in series
        ]
        rows.append(summarize(kind, "gateway_rss_kb_per_1000_pending", growth))
    return {"runs": results, "rows": rows, "pending": pending}
