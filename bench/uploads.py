"""Uploads: a large file through ``POST /v1/files`` (raw body) and through a multipart
``POST /echo/predict`` (async: to its 202), each sent by ``curl`` as a stream, against
``curl`` sending the same file to a bare Starlette endpoint that streams it to disk
(:mod:`bench.upload_sink`, durable before it answers, as inferq is), in the same run; and the gateway's peak RSS meanwhile, above
its RSS at rest (flat in the file's size when uploads stream).

Stores: SQLite with its blob directory, and Redis with a ``file://`` blob directory.

And Whisper's way in for a long recording (``--whisper-minutes`` of synthetic speech as
MP3): multipart against base64 in JSON, time to the 202 and the gateway's peak RSS above
rest for each, on a gateway alone (``--no-workers``: what is measured is the submit).
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Self

from bench.common import start_reference, store_url, summarize
from bench.memory import rss_bytes
from tests.conftest import Server

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
    """Seconds ``curl`` took (its own timing, from start to the whole answer), from a disk
    with nothing left to write back (an earlier upload's pages would slow this one's fsync)."""
    os.sync()
    out = subprocess.run(
        ["curl", "-sS", "--fail-with-body", "-o", "/dev/null", "-w", "%{time_total}", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out)


def forget_uploads(server: Server, sink: Path) -> None:
    """Delete what the last uploads stored, so each lands on a disk as empty as the first's."""
    for stored in sink.iterdir():
        stored.unlink()
    with server.http() as http:
        for listed in http.get("/v1/files").json()["results"]:
            http.delete(f"/v1/files/{listed['id']}").raise_for_status()


def one_run(kind: str, tmp: Path, file: Path, sink: str) -> dict[str, float]:
    """On a gateway alone (``--no-workers``): what is timed is the upload, with no worker
    reading the file meanwhile."""
    size_mb = file.stat().st_size / 2**20
    backend = store_url(kind, tmp)
    blobs = [] if kind == "sqlite" else ["--blob-store", (tmp / f"blobs-{kind}").as_uri()]
    flags = ["--endpoints", "echo", "--no-workers", *blobs]
    server = Server(backend, flags, tmp / f"serve-{kind}.log").start()
    auth = f"Authorization: Bearer {server.token}"
    raw_upload = ["-T", str(file), "-X", "POST", "-H", auth, "-H", "Content-Type: audio/mpeg"]
    form_upload = ["-F", f"file=@{file}", "-H", auth, "-H", "Prefer: respond-async"]
    try:
        assert server.proc is not None
        at_rest = rss_bytes(server.proc.pid)
        reference = curl("-T", str(file), "-X", "POST", f"{sink}/upload")
        forget_uploads(server, tmp / "sink")
        with PeakRSS(server.proc.pid) as files_rss:
            raw = curl(*raw_upload, f"{server.url}/v1/files")
        forget_uploads(server, tmp / "sink")
        with PeakRSS(server.proc.pid) as form_rss:
            form = curl(*form_upload, f"{server.url}/echo/predict")
        forget_uploads(server, tmp / "sink")
    finally:
        server.stop()
    return {
        "reference_mb_per_s": size_mb / reference,
        "files_mb_per_s": size_mb / raw,
        "multipart_mb_per_s": size_mb / form,
        "files_peak_rss_over_rest_mb": (files_rss.peak - at_rest) / 2**20,
        "multipart_peak_rss_over_rest_mb": (form_rss.peak - at_rest) / 2**20,
    }


def run(backends: list[str], runs: int, size_mb: int, whisper_minutes: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as directory:
        tmp = Path(directory)
        file = make_file(tmp / "upload.bin", size_mb << 20)
        (tmp / "sink").mkdir()
        sink_proc, sink = start_reference("bench.upload_sink:app", {"UPLOAD_SINK_DIR": str(tmp / "sink")})
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
    whisper = run_whisper(runs, whisper_minutes)
    return {"size_mb": size_mb, "runs": series, "whisper": whisper, "rows": rows + whisper["rows"]}


SENTENCES = (
    "The quick brown fox jumps over the lazy dog. She sells seashells by the seashore. "
    "A journey of a thousand miles begins with a single step. All that glitters is not gold."
)


def make_recording(path: Path, minutes: int) -> Path:
    """``minutes`` of speech as MP3: flite speaks a few sentences, sox repeats them."""
    speech = path.with_suffix(".wav")
    subprocess.run(["flite", "-t", SENTENCES, "-o", str(speech)], check=True)
    length = float(
        subprocess.run(["soxi", "-D", str(speech)], capture_output=True, text=True, check=True).stdout
    )
    repeats = max(0, round(minutes * 60 / length) - 1)
    subprocess.run(["sox", str(speech), "-r", "22050", str(path), "repeat", str(repeats)], check=True)
    return path


def whisper_run(tmp: Path, recording: Path) -> dict[str, float]:
    body = tmp / "body.json"
    body.write_bytes(b'{"audio": "' + base64.b64encode(recording.read_bytes()) + b'"}')
    server = Server(
        store_url("sqlite", tmp), ["--endpoints", "whisper", "--no-workers"], tmp / "serve-whisper.log"
    ).start()
    auth, url = f"Authorization: Bearer {server.token}", f"{server.url}/whisper/predict"
    try:
        assert server.proc is not None
        at_rest = rss_bytes(server.proc.pid)
        with PeakRSS(server.proc.pid) as form_rss:
            form = curl("-F", f"audio=@{recording}", "-H", auth, "-H", "Prefer: respond-async", url)
        with PeakRSS(server.proc.pid) as json_rss:
            inline = curl(
                "--data-binary",
                f"@{body}",
                "-H",
                auth,
                "-H",
                "Content-Type: application/json",
                "-H",
                "Prefer: respond-async",
                url,
            )
    finally:
        server.stop()
    return {
        "multipart_s": form,
        "base64_s": inline,
        "multipart_rss_mb": (form_rss.peak - at_rest) / 2**20,
        "base64_rss_mb": (json_rss.peak - at_rest) / 2**20,
    }


def run_whisper(runs: int, minutes: int) -> dict[str, Any]:
    """Time to 202 and the gateway's RSS for a ``minutes``-long MP3, multipart against base64."""
    with tempfile.TemporaryDirectory(prefix="bench-whisper-upload-") as directory:
        tmp = Path(directory)
        recording = make_recording(tmp / "talk.mp3", minutes)
        size_mb = recording.stat().st_size / 2**20
        results = [whisper_run(tmp, recording) for _ in range(runs)]
    label = f"whisper {minutes} min mp3 ({size_mb:.0f} MB)"
    rows = [
        summarize(
            "sqlite",
            "whisper_multipart_to_202_s",
            [r["multipart_s"] for r in results],
            {"base64": [r["multipart_s"] / r["base64_s"] for r in results]},
        ),
        summarize("sqlite", "whisper_base64_to_202_s", [r["base64_s"] for r in results]),
        summarize("sqlite", "whisper_multipart_rss_over_rest_mb", [r["multipart_rss_mb"] for r in results]),
        summarize("sqlite", "whisper_base64_rss_over_rest_mb", [r["base64_rss_mb"] for r in results]),
    ]
    return {"recording": label, "runs": results, "rows": rows}
