"""``python -m bench sdk``: can one process with ``inferq.AsyncClient`` keep up with the server?

For each backend, a fresh server with two echo workers (as :mod:`bench.scaleout` runs it)
is measured twice in the same run:

- the reference, from :func:`bench.scaleout.measure`: async submits/s under ``wrk -t1 -c64``
  and the end-to-end rate at which the workers drain them;
- the SDK: this process submits ``--sdk-requests`` echo requests at once with
  ``AsyncClient.infer_async`` and collects every output through the futures
  (:func:`submit_and_collect`, the only client-side code); its submit rate is requests
  over the time until the last future was in hand, its end-to-end rate requests over the
  time until the last output was. At most ``--sdk-in-flight`` calls are open at once (64,
  wrk's connections; 0 for no bound): beyond the client's 100 pooled connections, httpx's
  pool (httpcore 1.0) rescans every queued call for every connection each time one
  starts or ends, so thousands of calls left waiting in it cost time quadratic in their
  number (encode/httpcore#1035).

Reported: both SDK rates and their ratios to the server's. Everything shares this
machine's two cores, so the SDK's own CPU is taken from the server it drives; wrk's is
small by comparison.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from bench import scaleout
from bench.common import store_url, summarize
from inferq import AsyncClient
from tests.conftest import Server

T = TypeVar("T")


async def submit_and_collect(client: AsyncClient, n: int, in_flight: int | None) -> tuple[float, float]:
    """Submit ``n`` echo requests at once, then collect every output, with at most ``in_flight``
    calls open at a time (None: no bound); the seconds until the last submit was accepted
    and until the last output was in hand.

    This is the whole client side of the measurement, so that a batch submit or a
    wait-any call can take the place of ``infer_async`` or of the futures here.
    """
    gate = asyncio.Semaphore(in_flight or n)

    async def gated(call: Awaitable[T]) -> T:
        async with gate:
            return await call

    started = time.perf_counter()
    futures = await asyncio.gather(
        *(gated(client.infer_async("echo", {"text": "hello", "n": i})) for i in range(n))
    )
    submitted = time.perf_counter()
    outputs = await asyncio.gather(*(gated(future.aresult()) for future in futures))
    collected = time.perf_counter()
    wrong = sum(output != {"echo": {"text": "hello", "n": i}} for i, output in enumerate(outputs))
    if wrong:
        raise RuntimeError(f"{wrong} of {n} outputs were not the echo of their inputs")
    return submitted - started, collected - started


async def drive(server: Server, n: int, in_flight: int | None) -> dict[str, float]:
    async with AsyncClient(server.token, server.url) as client:
        submit_s, total_s = await submit_and_collect(client, n, in_flight)
    return {"sdk_submits_per_s": n / submit_s, "sdk_end_to_end_per_s": n / total_s}


def one_run(kind: str, tmp: Path, seconds: int, n: int, in_flight: int | None) -> dict[str, float]:
    backend = store_url(kind, tmp)
    servers = scaleout.start(backend, tmp, gateways=1)
    try:
        figures = scaleout.measure(servers, seconds)
        figures.update(asyncio.run(drive(servers[0], n, in_flight)))
        return figures
    finally:
        servers[0].stop()
        scaleout.forget(backend)


def run(backends: list[str], runs: int, seconds: int, n: int, in_flight: int | None) -> dict[str, Any]:
    """``runs`` rounds over ``backends``; the raw figures and the table's rows."""
    results: list[dict[str, dict[str, float]]] = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            results.append({kind: one_run(kind, Path(tmp), seconds, n, in_flight) for kind in backends})
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
    return {"runs": results, "rows": rows, "requests": n, "in_flight": in_flight}
