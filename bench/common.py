"""What every benchmark here shares: load from wrk, percentiles, the reference server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, wait_until

BENCH = Path(__file__).parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def wrk(url: str, seconds: int, token: str | None = None, connections: int = 64) -> dict[str, Any]:
    """Async POSTs from ``wrk -t1`` for ``seconds``; requests/s and latency percentiles."""
    env = {**os.environ, **({"BENCH_TOKEN": token} if token else {})}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(BENCH / "post.lua"), url],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


def start_reference() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "bench.hello_app:app", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url) as http:
        wait_until(lambda: http.get("/hello").status_code == 200, what="reference server")
    return proc, url
