"""Dynamic batching: requests that arrive together run as one call of a batching Service.

The Service here stands for a model whose every call has a fixed cost (a GPU's kernel
launches and transfers, say) plus a small cost per input: :mod:`bench.services`. The
same model runs once with ``batch_size`` 1 and once with its batch form; ``requests``
inputs are queued at once (batch submits) and collected with ``as_completed``. The
figure is end-to-end requests/s of the batched form as a ratio to the unbatched one.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import store_url, summarize
from bench.scaleout import forget
from inferq import Client, as_completed
from tests.conftest import Server

SERVICES = Path(__file__).parent / "services.py"


def end_to_end(backend: str, tmp: Path, service: str, requests: int) -> float:
    endpoint = f"model={SERVICES}:{service}"
    server = Server(backend, ["--endpoints", endpoint], tmp / f"{service}.log").start(("model",))
    try:
        with Client(token=server.token, base_url=server.url) as client:
            started = time.perf_counter()
            futures = client.infer_batch("model", [{"x": i} for i in range(requests)])
            assert sum(1 for _ in as_completed(futures, timeout=600)) == requests
            return requests / (time.perf_counter() - started)
    finally:
        server.stop()
        forget(backend)


def run(backends: list[str], runs: int, requests: int) -> dict[str, Any]:
    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            results[backend] = [
                {
                    name: end_to_end(store_url(backend, Path(tmp)), Path(tmp), name, requests)
                    for name in ("CallCost", "BatchedCallCost")
                }
                for _ in range(runs)
            ]
    rows = []
    for backend, series in results.items():
        rows.append(summarize(backend, "unbatched_per_s", [r["CallCost"] for r in series]))
        rows.append(
            summarize(
                backend,
                "batched_per_s",
                [r["BatchedCallCost"] for r in series],
                {"unbatched": [r["BatchedCallCost"] / r["CallCost"] for r in series]},
            )
        )
    return {"runs": results, "rows": rows}
