"""``python -m bench.whisper_throughput``: N clips through inferq against faster-whisper direct.

The reference transcribes the clips one after another in one process with the server's
model and settings (a thread per core). inferq gets all N clips submitted asynchronously
at once and is timed until the last one is completed; it runs with one worker (the model
with a thread per core), with one worker per core (one thread each), and with ``--batch``
N, one worker per core decoding up to N clips per call (the batch form,
:mod:`inferq.models.whisper_batch`). Figures are clips per second and their ratio to
direct, median and min-max over ``--runs``.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.audio import make_speech
from tests.conftest import Server

ASYNC = {"X-OctoAI-Async": "1"}
SENTENCES = [
    "She sells seashells by the seashore.",
    "The quick brown fox jumps over the lazy dog.",
    "A journey of a thousand miles begins with a single step.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "The early bird catches the worm, but the second mouse gets the cheese.",
    "Every cloud has a silver lining when the sun comes out again.",
    "Six slippery snails slid slowly seaward.",
    "We will meet at the station at half past nine tomorrow morning.",
]


def make_clips(directory: Path, n: int) -> list[Path]:
    return [make_speech(directory / f"clip{i}.wav", SENTENCES[i % len(SENTENCES)]) for i in range(n)]


def direct(clips: list[Path]) -> float:
    """Clips per second through faster-whisper in this process, as the server would run them."""
    from tests.whisper_reference import direct_transcribe

    direct_transcribe(clips[0])  # load the model outside the timing, as the server does at setup
    start = time.perf_counter()
    for clip in clips:
        direct_transcribe(clip)
    return len(clips) / (time.perf_counter() - start)


def through_inferq(clips: list[Path], workers: int, threads: int, tmp: Path, batch: int = 1) -> float:
    env = {"INFERQ_WHISPER_CPU_THREADS": str(threads), "INFERQ_WHISPER_BATCH_SIZE": str(batch)}
    server = Server(
        f"sqlite:///{tmp}/w{workers}-{batch}.db",
        ["--endpoints", "whisper", "--workers", str(workers)],
        tmp / f"serve-{workers}-{batch}.log",
        env=env,
    )
    server.start(wait_for=("whisper",))
    bodies = [{"audio": base64.b64encode(clip.read_bytes()).decode()} for clip in clips]
    try:
        with server.http() as http:
            http.post("/whisper/predict", json=bodies[0])  # warm the worker, like the direct run
            start = time.perf_counter()
            futures = http.post("/whisper/batch", json={"inputs": bodies}).json()["results"]
            for future in futures:
                state = http.get(future["poll_url"], params={"wait": 60}).json()
                assert state["status"] == "completed", state
            return len(clips) / (time.perf_counter() - start)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8, help="clips per call in the batched configuration")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "whisper.json")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        clips = make_clips(Path(tmp), args.clips)
        for _ in range(args.runs):
            reference = direct(clips)
            run = {
                "direct_clips_per_s": reference,
                "one_worker_clips_per_s": through_inferq(clips, 1, cores, Path(tmp)),
                f"{cores}_workers_clips_per_s": through_inferq(clips, cores, 1, Path(tmp)),
                f"{cores}_workers_batch_{args.batch}_clips_per_s": through_inferq(
                    clips, cores, 1, Path(tmp), args.batch
                ),
            }
            runs.append(run)
    print(f"{'configuration':<28}{'clips/s (min-max)':>26}{'ratio to direct (min-max)':>30}")
    for key in runs[0]:
        values = [r[key] for r in runs]
        ratios = [r[key] / r["direct_clips_per_s"] for r in runs]
        print(
            f"{key:<28}{statistics.median(values):>12.2f} ({min(values):.2f}-{max(values):.2f})"
            f"{statistics.median(ratios):>16.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(runs, indent=2))


if __name__ == "__main__":
    main()
