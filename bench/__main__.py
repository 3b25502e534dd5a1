"""``python -m bench``: inferq's overhead on ``echo`` as ratios to a bare Starlette endpoint.

Each run starts a fresh ``inferq serve`` (SQLite, one echo worker) and the reference
server, then measures, on both:

- one request at a time: submit latency and the round trip (submit → completed → fetched),
  p50 and p99, from one keep-alive client; the reference round trip is the same three
  HTTP calls to the bare endpoint;
- async submits per second under ``wrk -t1 -c64``; the reference is the bare POST.

The machine is shared and noisy, so figures are compared within a run and reported as
median and min–max over ``--runs``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import BENCH, percentile, start_reference, wrk
from tests.conftest import Server

ASYNC = {"X-OctoAI-Async": "1"}


def round_trips_inferq(server: Server, n: int) -> dict[str, float]:
    submits, trips = [], []
    with server.http() as http:
        for i in range(n):
            start = time.perf_counter()
            future = http.post("/echo/predict", json={"i": i}, headers=ASYNC).json()
            submitted = time.perf_counter()
            state = http.get(future["poll_url"], params={"wait": 10}).json()
            http.get(state["response_url"]).raise_for_status()
            submits.append(submitted - start)
            trips.append(time.perf_counter() - start)
    return summarise(submits, trips)


def round_trips_reference(url: str, n: int) -> dict[str, float]:
    submits, trips = [], []
    with httpx.Client(base_url=url) as http:
        for i in range(n):
            start = time.perf_counter()
            http.post("/hello", json={"i": i}).raise_for_status()
            submitted = time.perf_counter()
            http.get("/hello").raise_for_status()
            http.get("/hello").raise_for_status()
            submits.append(submitted - start)
            trips.append(time.perf_counter() - start)
    return summarise(submits, trips)


def summarise(submits: list[float], trips: list[float]) -> dict[str, float]:
    return {
        "submit_p50_ms": percentile(submits, 50) * 1000,
        "submit_p99_ms": percentile(submits, 99) * 1000,
        "round_trip_p50_ms": percentile(trips, 50) * 1000,
        "round_trip_p99_ms": percentile(trips, 99) * 1000,
    }


def one_run(seconds: int, trips: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(f"sqlite:///{tmp}/bench.db", ["--endpoints", "echo"], Path(tmp) / "serve.log")
        server.start(wait_for=("echo",))
        reference, ref_url = start_reference()
        try:
            result = {
                "inferq": round_trips_inferq(server, trips),
                "reference": round_trips_reference(ref_url, trips),
            }
            result["inferq"]["submits_per_s"] = wrk(f"{server.url}/echo/predict", seconds, server.token)["rps"]
            result["reference"]["submits_per_s"] = wrk(f"{ref_url}/hello", seconds)["rps"]
        finally:
            server.stop()
            reference.terminate()
            reference.wait()
    return result


def report(runs: list[dict[str, Any]]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for metric in runs[0]["inferq"]:
        ours = [r["inferq"][metric] for r in runs]
        ratios = [r["inferq"][metric] / r["reference"][metric] for r in runs]
        table[metric] = {
            "inferq_median": statistics.median(ours),
            "inferq_min": min(ours),
            "inferq_max": max(ours),
            "reference_median": statistics.median(r["reference"][metric] for r in runs),
            "ratio_median": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per measurement")
    parser.add_argument("--trips", type=int, default=300, help="sequential round trips per run")
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "foundation.json")
    args = parser.parse_args()
    runs = [one_run(args.seconds, args.trips) for _ in range(args.runs)]
    table = report(runs)
    print(f"{'metric':<22}{'inferq (min-max)':>32}{'bare Starlette':>16}{'ratio (min-max)':>24}")
    for metric, row in table.items():
        ours = f"{row['inferq_median']:.2f} ({row['inferq_min']:.2f}-{row['inferq_max']:.2f})"
        ratio = f"{row['ratio_median']:.2f} ({row['ratio_min']:.2f}-{row['ratio_max']:.2f})"
        print(f"{metric:<22}{ours:>32}{row['reference_median']:>16.2f}{ratio:>24}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": runs, "summary": table}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
