"""Long work: resuming after a lost worker, how soon a cancel frees the worker, and what
checkpoints cost.

- **Resume**: a ``--long-minutes`` recording through Whisper on one worker, its worker
  killed (SIGKILL) once the request's progress passes 50 % and 90 %: the time from submit to
  completion against an uninterrupted run, with checkpoints (Whisper) and without
  (:class:`bench.whisper_variants.WhisperFromScratch`, which starts over). Each figure includes
  the new worker's start and model load.
- **Cancel**: on a one-worker endpoint, the time from ``POST /cancel`` of a running request to
  the ``started_at`` of the request queued behind it: echo with ``delay_s=30`` (it cooperates),
  Whisper on the long recording (it stops after the window it is decoding), and a model that
  ignores the cancel (``tests/services/sleeps.py``, replaced after ``--cancel-grace`` 5 s).
- **Checkpoint overhead**: ``--clips`` short clips through Whisper with checkpoints against
  without: clips per second and their ratio.

Whisper's store round trips are a sliver of its run, so this runs on the first of
``--backends`` only.
"""

from __future__ import annotations

import base64
import datetime
import os
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import store_url, summarize
from bench.scaleout import forget
from bench.uploads import make_recording
from bench.whisper_throughput import make_clips
from tests.conftest import SERVICES, Server, wait_until

ASYNC = {"Prefer": "respond-async"}
WHISPER = "whisper"
FROM_SCRATCH = "whisper=bench.whisper_variants:WhisperFromScratch"
SLEEPS = f"sleeps={SERVICES / 'sleeps.py'}:Sleeps"


def serve(kind: str, tmp: Path, endpoints: str, name: str) -> Server:
    """A server of its own, on a fresh store of ``kind``, one worker per endpoint."""
    server = Server(store_url(kind, tmp), ["--endpoints", endpoints, "--workers", "1"], tmp / f"{name}.log")
    names = tuple(part.split("=")[0] for part in endpoints.split(","))
    return server.start(wait_for=names)


def submit_audio(http: httpx.Client, path: Path) -> str:
    with path.open("rb") as audio:
        return str(http.post("/whisper/predict", files={"audio": audio}, headers=ASYNC).json()["poll_url"])


def resume_run(kind: str, tmp: Path, recording: Path, endpoints: str, kill_at: float | None) -> float:
    """Seconds from submit to completion, the worker killed once progress reaches ``kill_at``."""
    server = serve(kind, tmp, endpoints, f"resume-{kill_at}")
    try:
        with server.http() as http:
            started = time.perf_counter()
            poll_url = submit_audio(http, recording)
            if kill_at is not None:
                wait_until(
                    lambda: (http.get(poll_url).json().get("progress") or 0) >= kill_at,
                    3600,
                    f"progress {kill_at}",
                )
                os.kill(server.workers()[0], signal.SIGKILL)
            state = wait_until(lambda: _ended(http, poll_url), 3600, "the transcript")
            elapsed = time.perf_counter() - started
            assert state["status"] == "completed", state
            assert state["attempts"] == (1 if kill_at is None else 2), state
            return elapsed
    finally:
        server.stop()
        forget(server.backend)


def _ended(http: httpx.Client, poll_url: str) -> dict[str, Any] | None:
    state: dict[str, Any] = http.get(poll_url, params={"wait": 30}).json()
    return state if state["status"] in ("completed", "failed", "cancelled") else None


def cancel_to_next_start(server: Server, send: Any, nxt: Any, under_way: str = "progress") -> float:
    """Seconds from cancelling a running request, once its state shows ``under_way`` (its model
    reported progress, or it runs at all), to the start of the one queued behind it."""
    with server.http() as http:
        running = send(http)
        wait_until(lambda: http.get(running).json().get(under_way), 600, "the long request under way")
        behind = nxt(http)
        cancelled_at = time.time()
        assert http.post(f"{running}/cancel").json()["status"] == "cancelled"
        started = wait_until(lambda: http.get(behind).json()["started_at"], 600, "the next request to start")
        return datetime.datetime.fromisoformat(started).timestamp() - cancelled_at


def cancels(kind: str, tmp: Path, recording: Path) -> dict[str, float]:
    server = serve(kind, tmp, f"echo,whisper,{SLEEPS}", "cancel")
    try:

        def post(route: str, body: dict[str, Any]) -> Any:
            return lambda http: str(http.post(route, json=body, headers=ASYNC).json()["poll_url"])

        return {
            "echo": cancel_to_next_start(
                server, post("/echo/predict", {"delay_s": 30}), post("/echo/predict", {})
            ),
            "whisper": cancel_to_next_start(
                server,
                lambda http: submit_audio(http, recording),
                lambda http: submit_audio(http, recording),
            ),
            "ignores_cancel": cancel_to_next_start(
                server, post("/sleeps/predict", {"seconds": 60}), post("/sleeps/predict", {}), "started_at"
            ),
        }
    finally:
        server.stop()
        forget(server.backend)


def clips_per_s(kind: str, tmp: Path, clips: list[Path], endpoints: str) -> float:
    server = serve(kind, tmp, endpoints, "overhead")
    bodies = [{"audio": base64.b64encode(clip.read_bytes()).decode()} for clip in clips]
    try:
        with server.http() as http:
            http.post("/whisper/predict", json=bodies[0])  # warm the worker
            started = time.perf_counter()
            futures = http.post("/whisper/batch", json={"inputs": bodies}).json()["results"]
            for future in futures:
                wait_until(lambda f=future: _ended(http, f["poll_url"]), 600, "a clip")
            return len(clips) / (time.perf_counter() - started)
    finally:
        server.stop()
        forget(server.backend)


def run(backends: list[str], runs: int, minutes: int, clip_count: int) -> dict[str, Any]:
    backend_kind = backends[0]
    results: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        recording = make_recording(tmp / "long.mp3", minutes)
        clips = make_clips(tmp, clip_count)
        for _ in range(runs):
            figures = {
                "uninterrupted": resume_run(backend_kind, tmp, recording, WHISPER, None),
                **{
                    f"{variant}_killed_{round(at * 100)}": resume_run(
                        backend_kind, tmp, recording, endpoints, at
                    )
                    for variant, endpoints in (("resumed", WHISPER), ("restarted", FROM_SCRATCH))
                    for at in (0.5, 0.9)
                },
                **{f"cancel_{k}": v for k, v in cancels(backend_kind, tmp, recording).items()},
                "clips_per_s_checkpoints": clips_per_s(backend_kind, tmp, clips, WHISPER),
                "clips_per_s_none": clips_per_s(backend_kind, tmp, clips, FROM_SCRATCH),
            }
            print(figures, flush=True)
            results.append(figures)
    rows = []
    for variant in ("resumed", "restarted"):
        for at in (50, 90):
            name = f"{variant}_killed_{at}"
            ratio = {"uninterrupted": [r[name] / r["uninterrupted"] for r in results]}
            rows.append(
                summarize(backend_kind, f"whisper_{minutes}min_{name}_s", [r[name] for r in results], ratio)
            )
    rows.append(
        summarize(
            backend_kind, f"whisper_{minutes}min_uninterrupted_s", [r["uninterrupted"] for r in results]
        )
    )
    for kind in ("echo", "whisper", "ignores_cancel"):
        rows.append(
            summarize(backend_kind, f"cancel_to_next_start_{kind}_s", [r[f"cancel_{kind}"] for r in results])
        )
    rows.append(
        summarize(
            backend_kind,
            "whisper_clips_per_s_checkpoints",
            [r["clips_per_s_checkpoints"] for r in results],
            {"no checkpoints": [r["clips_per_s_checkpoints"] / r["clips_per_s_none"] for r in results]},
        )
    )
    return {"runs": results, "rows": rows}
