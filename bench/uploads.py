"""Uploads: a large file through ``POST /v1/files`` (raw body) and through a multipart
``POST /echo/predict`` (async: to its 202), each sent by ``curl`` as a stream, against
``curl`` sending the same file to a bare Starlette endpoint that streams it to disk
(:mod:`bench.upload_sink`), in the same run; and the gateway's peak RSS meanwhile, above
its RSS at rest (flat in the file's size when uploads stream).

Stores: SQLite with its blob directory, and Redis with a ``file://`` blob directory.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

import httpx

from bench.common import store_url, summarize
from bench.memory import rss_bytes
from tests.conftest import Server, free_port, wait_until

CHUNK = 8 << 20


def make_file(path: Path, size: int) -> Path:
    with path.open("wb") as file:
        for start in range(0, size, CHUNK):
            file.write(os.urandom(min(CHUNK, size - start)))
    return path


class PeakRSS:
    """Samples a process's RSS every few milliseconds while the context lasts."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.005)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def curl(*args: str) -> float:
    """Seconds ``curl`` took (its own timing, from start to the whole answer)."""
    out = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-w", "%{time_total}", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


def start_sink(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.upload_sink:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env={**os.environ, "UPLOAD_SINK_DIR": str(directory)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=url) as http:
        wait_until(lambda: http.get("/hello").status_code == 200, what="upload sink")
    return proc, url


def one_run(kind: str, tmp: Path, file: Path, sink: str) -> dict[str, float]:
    size_mb = file.stat().st_size / 2**20
    backend = store_url(kind, tmp)
    blobs = [] if kind == "sqlite" else ["--blob-store", (tmp / f"blobs-{kind}").as_uri()]
    server = Server(backend, ["--endpoints", "echo", *blobs], tmp / f"serve-{kind}.log").start(
        wait_for=("echo",)
    )
    auth = f"Authorization: Bearer {server.token}"
    try:
        assert server.proc is not None
        at_rest = rss_bytes(server.proc.pid)
        reference = curl("-T", str(file), "-X", "POST", f"{sink}/upload")
        with PeakRSS(server.proc.pid) as files_rss:
            raw = curl(
                "-T",
                str(file),
                "-X",
                "POST",
                "-H",
                auth,
                "-H",
                "Content-Type: audio/mpeg",
                f"{server.url}/v1/files",
            )
        with PeakRSS(server.proc.pid) as form_rss:
            form = curl(
                "-F", f"file=@{file}", "-H", auth, "-H", "Prefer: respond-async", f"{server.url}/echo/predict"
            )
    finally:
        server.stop()
    return {
        "reference_mb_per_s": size_mb / reference,
        "files_mb_per_s": size_mb / raw,
        "multipart_mb_per_s": size_mb / form,
        "files_peak_rss_over_rest_mb": (files_rss.peak - at_rest) / 2**20,
        "multipart_peak_rss_over_rest_mb": (form_rss.peak - at_rest) / 2**20,
    }


def run(backends: list[str], runs: int, size_mb: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as directory:
        tmp = Path(directory)
        file = make_file(tmp / "upload.bin", size_mb << 20)
        (tmp / "sink").mkdir()
        sink_proc, sink = start_sink(tmp / "sink")
        try:
            series = {kind: [one_run(kind, tmp, file, sink) for _ in range(runs)] for kind in backends}
        finally:
            sink_proc.terminate()
    for kind, results in series.items():
        reference = [r["reference_mb_per_s"] for r in results]
        rows.append(summarize(kind, "upload_reference_mb_per_s", reference))
        for metric in ("files_mb_per_s", "multipart_mb_per_s"):
            values = [r[metric] for r in results]
            ratios = [v / ref for v, ref in zip(values, reference, strict=True)]
            rows.append(summarize(kind, f"upload_{metric}", values, {"curl_to_bare": ratios}))
        for metric in ("files_peak_rss_over_rest_mb", "multipart_peak_rss_over_rest_mb"):
            rows.append(summarize(kind, f"upload_{metric}", [r[metric] for r in results]))
    return {"size_mb": size_mb, "runs": series, "rows": rows}
