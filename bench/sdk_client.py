"""``python -m bench sdk``: can one process with ``inferq.AsyncClient`` keep up with the server?

For each backend, a fresh server with two echo workers (as :mod:`bench.scaleout` runs it)
is measured twice in the same run:

- the reference, from :func:`bench.scaleout.measure`: async submits/s under ``wrk -t1 -c64``
  and the end-to-end rate at which the workers drain them;
- the SDK: this process submits ``--sdk-requests`` echo requests with
  ``AsyncClient.infer_batch`` (1,000 per call) and collects every output with
  ``as_completed`` (one wait stream that carries the outputs) and each future's
  ``aresult`` (:func:`submit_and_collect`, the only client-side code); its submit rate is
  requests over the time until the last future was in hand, its end-to-end rate requests
  over the time until the last output was.

Reported: both SDK rates and their ratios to the server's. Everything shares this
machine's two cores, so the SDK's own CPU is taken from the server it drives; wrk's is
small by comparison.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import scaleout
from bench.common import store_url, summarize
from inferq import AsyncClient, as_completed
from tests.conftest import Server


async def submit_and_collect(client: AsyncClient, n: int) -> tuple[float, float]:
    """Submit ``n`` echo requests, then collect every output; the seconds until the last
    submit was accepted and until the last output was in hand."""
    started = time.perf_counter()
    futures = await client.infer_batch("echo", [{"text": "hello", "n": i} for i in range(n)])
    submitted = time.perf_counter()
    ended = [future async for future in as_completed(futures, timeout=600)]
    outputs = [await future.aresult() for future in futures]
    collected = time.perf_counter()
    wrong = sum(output != {"echo": {"text": "hello", "n": i}} for i, output in enumerate(outputs))
    if wrong or len(ended) != n:
        raise RuntimeError(f"{wrong} of {n} outputs were not the echo of their inputs")
    return submitted - started, collected - started


async def drive(server: Server, n: int) -> dict[str, float]:
    async with AsyncClient(server.token, server.url) as client:
        submit_s, total_s = await submit_and_collect(client, n)
    return {"sdk_submits_per_s": n / submit_s, "sdk_end_to_end_per_s": n / total_s}


def one_run(kind: str, tmp: Path, seconds: int, n: int) -> dict[str, float]:
    backend = store_url(kind, tmp)
    servers = scaleout.start(backend, tmp, gateways=1)
    try:
        figures = scaleout.measure(servers, seconds)
        figures.update(asyncio.run(drive(servers[0], n)))
        return figures
    finally:
        servers[0].stop()
        scaleout.forget(backend)


def run(backends: list[str], runs: int, seconds: int, n: int) -> dict[str, Any]:
    """``runs`` rounds over ``backends``; the raw figures and the table's rows."""
    results: list[dict[str, dict[str, float]]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append({kind: one_run(kind, Path(tmp), seconds, n) for kind in backends})
    rows = []
    for kind in backends:
        series = [result[kind] for result in results]
        for sdk, server in (
            ("sdk_submits_per_s", "submits_per_s"),
            ("sdk_end_to_end_per_s", "end_to_end_per_s"),
        ):
            ratios = [f[sdk] / f[server] for f in series]
            rows.append(summarize(kind, f"server_{server}", [f[server] for f in series]))
            rows.append(summarize(kind, sdk, [f[sdk] for f in series], {f"server.{server}": ratios}))
    return {"runs": results, "rows": rows, "requests": n}
