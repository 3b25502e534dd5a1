"""What every benchmark here shares: load from wrk, percentiles, the reference server."""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import REDIS_URL, free_port, wait_until

BENCH = Path(__file__).parent


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


def wrk(url: str, seconds: int, token: str | None = None, connections: int = 64) -> dict[str, Any]:
    """Async POSTs from ``wrk -t1`` for ``seconds``; requests/s and latency percentiles."""
    env = {**os.environ, **({"BENCH_TOKEN": token} if token else {})}
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", str(BENCH / "post.lua"), url],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


def start_reference(
    app: str = "bench.hello_app:app", env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """A bare Starlette ``app`` (one with a ``GET /hello``) on one uvicorn process, up."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url) as http:
        wait_until(lambda: http.get("/hello").status_code == 200, what="reference server")
    return proc, url


def store_url(kind: str, tmp: Path) -> str:
    """A fresh store of ``kind`` (``sqlite`` or ``redis``): a file in ``tmp``, or a key prefix of
    its own (delete it with :func:`bench.scaleout.forget`)."""
    if kind == "sqlite":
        return f"sqlite:///{tmp}/bench-{secrets.token_hex(4)}.db"
    return f"{REDIS_URL}?prefix=bench-{secrets.token_hex(4)}"


def summarize(
    backend: str, metric: str, values: list[float], ratios: dict[str, list[float]] | None = None
) -> dict[str, Any]:
    """One row of the table: median and min-max over the runs, and of each ratio to a reference."""
    row: dict[str, Any] = {
        "backend": backend,
        "metric": metric,
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "ratios": {},
    }
    for name, series in (ratios or {}).items():
        row["ratios"][name] = (statistics.median(series), min(series), max(series))
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'backend':<8}{'metric':<34}{'median (min-max)':>30}   ratio to reference median (min-max)")
    for row in rows:
        ratios = "; ".join(f"{ref} {m:.2f} ({lo:.2f}-{hi:.2f})" for ref, (m, lo, hi) in row["ratios"].items())
        figure = f"{row['median']:.2f} ({row['min']:.2f}-{row['max']:.2f})"
        print(f"{row['backend']:<8}{row['metric']:<34}{figure:>30}   {ratios}")
