"""``python -m bench``: inferq on ``echo`` beside the references, measured in the same run.

References: a bare Starlette POST on uvicorn (the HTTP ceiling of one process here) and
Celery 5 with Redis as broker and result backend running a no-op task. For each backend
inferq gets, from a fresh server:

- one request at a time from one keep-alive client: submit latency and the round trip
  (submit → completed → fetched), p50 and p99; synchronous ``predict`` latency, p50 and p99;
- async submits/s under ``wrk -t1 -c64``, then end-to-end requests/s (how fast one and two
  workers drain what was submitted), and how fast they drain requests that each take 10 ms
  (see :mod:`bench.scaleout`);
- on Redis, submits/s through one, two and three gateways.

The machine is shared and noisy: every figure is printed with its ratio to its reference
from the same run, as the median and min-max over ``--runs``; then every target of
:mod:`bench.targets` of the parts that ran, its ratio beside its bound (``make bench`` runs
``overhead`` and ``sweep``, the parts with targets).

Besides that overhead comparison (``python -m bench overhead``), the scale figures, each
of which runs alone when named: ``memory`` (the gateway's RSS with ``--pending`` requests
queued, :mod:`bench.memory`), ``sweep`` (deleting ``--rows`` expired requests and the API's
latency meanwhile, :mod:`bench.sweep`), ``sdk`` (``AsyncClient`` with ``--sdk-requests``
against the server's own rates, :mod:`bench.sdk_client`), ``fairness`` (a single request
behind another token's ``--burst``, :mod:`bench.fairness`) and ``batching`` (a batching
Service against its unbatched form, :mod:`bench.batching`) and ``uploads`` (a
``--upload-mb`` file through ``/v1/files`` and multipart against curl to a bare endpoint,
and the gateway's RSS meanwhile; a ``--whisper-minutes`` recording as multipart against
base64, :mod:`bench.uploads`) and ``embeddings`` (``--texts`` sentences through the
embeddings endpoint batched and not, against the model called directly,
:mod:`bench.embeddings`) and ``long_work`` (a ``--long-minutes`` recording resumed after its
worker is killed, cancels, and the cost of checkpoints on ``--clips`` clips,
:mod:`bench.long_work`) and ``hostile`` (another tenant's latency while one attacks:
event streams on a ``--deep`` queue, slow sockets, huge bodies, slow webhook receivers,
:mod:`bench.hostile`) and ``partitions`` (faults on a namespaced cluster's links, each held
``--fault-seconds``, :mod:`bench.partitions`; needs root) and ``scheduling`` (short work
behind long work across tokens and within one, and ``--deadline-requests`` requests with
deadlines, against simulated orders, :mod:`bench.scheduling`; on SQLite unless
``--backends`` is given). With no name, all run.
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

from bench import (
    batching,
    embeddings,
    fairness,
    hostile,
    long_work,
    memory,
    partitions,
    scaleout,
    scheduling,
    sdk_client,
    sweep,
    targets,
    uploads,
)
from bench.common import BENCH, percentile, print_table, start_reference, store_url, summarize, wrk
from tests.conftest import Server

ASYNC = {"X-OctoAI-Async": "1"}
#: Requests of 10 ms each the workers drain, for whether a second worker runs more.
DRAINED_10MS = 400
#: The numbers of gateways whose submits are measured on Redis.
GATEWAYS = (1, 2, 3)

#: inferq figure → (reference, its figure), in the order printed.
COMPARISONS = {
    "submits_per_s": [("celery", "submits_per_s"), ("bare", "submits_per_s")],
    "end_to_end_per_s_1_worker": [("celery", "end_to_end_per_s_1_worker")],
    "end_to_end_per_s_2_workers": [("celery", "end_to_end_per_s_2_workers")],
    "round_trip_p50_ms": [("celery", "round_trip_p50_ms"), ("bare", "round_trip_p50_ms")],
    "round_trip_p99_ms": [("celery", "round_trip_p99_ms"), ("bare", "round_trip_p99_ms")],
    "submit_p50_ms": [("bare", "submit_p50_ms")],
    "submit_p99_ms": [("bare", "submit_p99_ms")],
    "sync_p50_ms": [("bare", "submit_p50_ms")],
    "sync_p99_ms": [("bare", "submit_p99_ms")],
}


def timings(submits: list[float], trips: list[float]) -> dict[str, float]:
    return {
        "submit_p50_ms": percentile(submits, 50) * 1000,
        "submit_p99_ms": percentile(submits, 99) * 1000,
        "round_trip_p50_ms": percentile(trips, 50) * 1000,
        "round_trip_p99_ms": percentile(trips, 99) * 1000,
    }


def one_at_a_time(server: Server, n: int) -> dict[str, float]:
    submits, trips, syncs = [], [], []
    with server.http() as http:
        for i in range(n):
            start = time.perf_counter()
            future = http.post("/echo/predict", json={"i": i}, headers=ASYNC).json()
            submitted = time.perf_counter()
            state = http.get(future["poll_url"], params={"wait": 10}).json()
            http.get(state["response_url"]).raise_for_status()
            submits.append(submitted - start)
            trips.append(time.perf_counter() - start)
        for i in range(n):
            start = time.perf_counter()
            http.post("/echo/predict", json={"i": i}).raise_for_status()
            syncs.append(time.perf_counter() - start)
    return {
        **timings(submits, trips),
        "sync_p50_ms": percentile(syncs, 50) * 1000,
        "sync_p99_ms": percentile(syncs, 99) * 1000,
    }


def bare(seconds: int, n: int) -> dict[str, float]:
    proc, url = start_reference()
    submits, trips = [], []
    try:
        with httpx.Client(base_url=url) as http:
            for i in range(n):
                start = time.perf_counter()
                http.post("/hello", json={"i": i}).raise_for_status()
                submitted = time.perf_counter()
                http.get("/hello").raise_for_status()
                http.get("/hello").raise_for_status()
                submits.append(submitted - start)
                trips.append(time.perf_counter() - start)
        return {**timings(submits, trips), "submits_per_s": wrk(f"{url}/hello", seconds)["rps"]}
    finally:
        proc.terminate()
        proc.wait()


def inferq(backend: str, tmp: Path, seconds: int, n: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    for workers in (1, 2):
        servers = scaleout.start(backend, tmp, gateways=1, workers=workers)
        try:
            if workers == 1:
                figures.update(one_at_a_time(servers[0], n))
            load = scaleout.measure(servers, seconds)
            figures.setdefault("submits_per_s", load["submits_per_s"])
            many = f"{workers}_worker{'s' if workers > 1 else ''}"
            figures[f"end_to_end_per_s_{many}"] = load["end_to_end_per_s"]
            figures[f"end_to_end_per_s_{many}_10ms"] = scaleout.drain(servers[0], DRAINED_10MS, 0.01)
        finally:
            scaleout.stop(servers, backend)
    if backend.startswith("redis"):
        rates = scaleout.gateway_submits(backend, tmp, seconds, GATEWAYS)
        figures.update({f"submits_per_s_{count}_gateways": rate for count, rate in rates.items()})
    return figures


def one_run(backends: list[str], seconds: int, n: int) -> dict[str, Any]:
    from bench import celery_reference  # needs the bench extra (Celery), as only this part does

    run: dict[str, Any] = {"bare": bare(seconds, n), "celery": celery_reference.measure(seconds, 2000, n)}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            run[backend] = inferq(store_url(backend, Path(tmp)), Path(tmp), seconds, n)
    return run


def report(runs: list[dict[str, Any]], backends: list[str]) -> list[dict[str, Any]]:
    rows = []
    for backend in backends:
        for metric, references in COMPARISONS.items():
            ratios = {
                f"{name}.{figure}": [run[backend][metric] / run[name][figure] for run in runs]
                for name, figure in references
            }
            rows.append(summarize(backend, metric, [run[backend][metric] for run in runs], ratios))
    return rows


def overhead(args: argparse.Namespace, backends: list[str]) -> dict[str, Any]:
    runs = [one_run(backends, args.seconds, args.trips) for _ in range(args.runs)]
    for name in ("bare", "celery"):
        print(
            f"reference {name}: "
            + ", ".join(f"{k} {statistics.median(r[name][k] for r in runs):.2f}" for k in runs[0][name])
        )
    return {"runs": runs, "rows": report(runs, backends)}


#: Each part of the run by name: what it measures, from the arguments and the backends.
PARTS = {
    "overhead": overhead,
    "memory": lambda args, backends: memory.run(backends, args.runs, args.pending),
    "sweep": lambda args, backends: sweep.run(backends, args.runs, args.rows),
    "fairness": lambda args, backends: fairness.run(backends, args.runs, args.burst),
    "batching": lambda args, backends: batching.run(backends, args.runs, args.batching_requests),
    "sdk": lambda args, backends: sdk_client.run(backends, args.runs, args.seconds, args.sdk_requests),
    "uploads": lambda args, backends: uploads.run(backends, args.runs, args.upload_mb, args.whisper_minutes),
    "embeddings": lambda args, backends: embeddings.run(backends, args.runs, args.texts),
    "long_work": lambda args, backends: long_work.run(backends, args.runs, args.long_minutes, args.clips),
    "hostile": lambda args, backends: hostile.run(backends, args.runs, args.deep),
    "partitions": lambda args, backends: partitions.run(args.fault_seconds),
    "scheduling": lambda args, backends: scheduling.run(
        args.backends.split(",") if args.backends else ["sqlite"], args.runs, args.deadline_requests
    ),
}
#: The backends a part runs on when ``--backends`` is not given (``scheduling`` picks its own).
DEFAULT_BACKENDS = "sqlite,redis"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("parts", nargs="*", metavar="PART", help=f"some of {', '.join(PARTS)} (default: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="wrk duration per load measurement")
    parser.add_argument("--trips", type=int, default=300, help="requests one at a time per run")
    parser.add_argument(
        "--backends", help=f"comma-separated (default: {DEFAULT_BACKENDS}; scheduling: sqlite)"
    )
    parser.add_argument("--pending", type=int, default=100_000, help="memory: requests queued at the end")
    parser.add_argument("--rows", type=int, default=1_000_000, help="sweep: expired requests to delete")
    parser.add_argument("--sdk-requests", type=int, default=10_000, help="sdk: requests sent and collected")
    parser.add_argument("--burst", type=int, default=10_000, help="fairness: one token's burst")
    parser.add_argument("--batching-requests", type=int, default=2000, help="batching: requests per form")
    parser.add_argument("--upload-mb", type=int, default=1024, help="uploads: the file's size in MiB")
    parser.add_argument("--whisper-minutes", type=int, default=30, help="uploads: the recording's length")
    parser.add_argument("--texts", type=int, default=10_000, help="embeddings: sentences, each a request")
    parser.add_argument("--long-minutes", type=int, default=20, help="long_work: the recording's length")
    parser.add_argument("--clips", type=int, default=40, help="long_work: short clips for the overhead")
    parser.add_argument("--deep", type=int, default=20_000, help="hostile: requests queued under the streams")
    parser.add_argument(
        "--fault-seconds", type=float, default=20, help="partitions: how long each fault holds"
    )
    parser.add_argument(
        "--deadline-requests", type=int, default=1000, help="scheduling: requests with deadlines"
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "bench.json")
    args = parser.parse_args()
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {', '.join(sorted(unknown))}: choose from {', '.join(PARTS)}")
    backends = (args.backends or DEFAULT_BACKENDS).split(",")
    results = {part: PARTS[part](args, backends) for part in args.parts or PARTS}
    rows = [row for result in results.values() for row in result["rows"]]
    print_table(rows)
    goals = targets.rows(results, backends)
    targets.print_rows(goals)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"parts": results, "rows": rows, "targets": goals}, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
