"""Fair queuing: one token's burst does not starve another token's single request.

Per backend, on one echo worker whose every request takes ``SERVICE_S``: token A queues
``burst`` requests (in batch calls), then token B sends ``PROBES`` single requests, one
after another, each waited for. The figure is B's queue wait (``started_at`` minus
``created_at``) as a ratio to the measured service time (target: near 1), beside what
first-in-first-out would have made B wait (A's backlog when B submitted, times the
service time). The burst is never drained: the server is stopped once B is done.
"""

from __future__ import annotations

import statistics
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import store_url, summarize
from bench.scaleout import forget
from tests.conftest import Server, create_token

SERVICE_S = 0.005
PROBES = 5
BATCH = 1000


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def one(backend: str, tmp: Path, burst: int) -> dict[str, float]:
    server = Server(backend, ["--endpoints", "echo", "--workers", "1"], tmp / "fair.log").start(("echo",))
    other = create_token(backend, "single")
    try:
        with server.http() as a, server.http(token=other) as b:
            for start in range(0, burst, BATCH):
                size = min(BATCH, burst - start)
                a.post("/echo/batch", json={"inputs": [{"delay_s": SERVICE_S}] * size}).raise_for_status()
            waits, backlogs = [], []
            for _ in range(PROBES):
                backlogs.append(a.get("/v1/endpoints").json()["endpoints"][0]["pending"])
                future = b.post(
                    "/echo/predict", json={"delay_s": SERVICE_S}, headers={"Prefer": "respond-async"}
                )
                state = b.get(future.json()["poll_url"], params={"wait": 60}).json()
                waits.append(_at(state["started_at"]) - _at(state["created_at"]))
            served = a.get("/v1/requests", params={"status": "completed", "limit": 100}).json()["results"]
            runs = [_at(s["completed_at"]) - _at(s["started_at"]) for s in served]
    finally:
        server.stop()
        forget(backend)
    service = statistics.median(runs)
    wait = statistics.median(waits)
    return {
        "single_wait_ms": wait * 1000,
        "service_ms": service * 1000,
        "wait_per_service": wait / service,
        "fifo_wait_s": statistics.median(backlogs) * service,
    }


def run(backends: list[str], runs: int, burst: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results[backend] = [one(store_url(backend, Path(tmp)), Path(tmp), burst) for _ in range(runs)]
    rows = []
    for backend, series in results.items():
        rows.append(
            summarize(
                backend,
                f"single_wait_ms_behind_{burst}",
                [r["single_wait_ms"] for r in series],
                {"service_time": [r["wait_per_service"] for r in series]},
            )
        )
        rows.append(summarize(backend, "fifo_would_wait_s", [r["fifo_wait_s"] for r in series]))
    return {"runs": results, "rows": rows}
