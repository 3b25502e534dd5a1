"""Long work, caused for real on both backends: a worker killed mid-file resumes Whisper from its
last checkpoint with the transcript an uninterrupted run gives; a cancel or a timeout stops the
model and the same worker serves the next request, and a model that will not stop has its worker
replaced after ``--cancel-grace``."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.audio import make_speech
from tests.conftest import SERVICES, Server, wait_until

ASYNC = {"Prefer": "respond-async"}
SLEEPS = f"sleeps={SERVICES / 'sleeps.py'}:Sleeps"
#: About 80 s of speech: three of Whisper's 30 s windows.
SPEECH = (
    "The quick brown fox jumps over the lazy dog near the river bank. A large ship sailed slowly "
    "into the harbour at dawn. Every morning the baker opens his shop and sells fresh bread to the "
    "village. The children played football in the park until the sun went down. My grandmother "
    "keeps a small garden with tomatoes, beans and bright yellow flowers. The train to the city "
    "leaves at half past seven from the north platform. Scientists measured the temperature of the "
    "ocean for twelve years. She wrote a long letter to her brother who lives far away in the "
    "mountains. The museum opens a new exhibition about ancient maps next week. We walked along the "
    "beach and collected shells of many colours. The old clock in the hall strikes twelve times at "
    "midnight. A storm broke the branches of the tallest tree in the square. The teacher asked the "
    "students to read the first chapter before Monday. Farmers in the valley grow wheat, corn and "
    "potatoes. The library is quiet in the afternoon when most people are at work. He repaired the "
    "bicycle with a new chain and two new tyres."
)


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_speech(tmp_path_factory.mktemp("audio") / "long.wav", SPEECH)


def transcribe(http: httpx.Client, recording: Path) -> str:
    with recording.open("rb") as audio:
        future = http.post("/whisper/predict", files={"audio": audio}, headers=ASYNC).json()
    return str(future["poll_url"])


def test_a_worker_killed_mid_file_resumes_and_the_transcript_is_word_for_word_the_same(
    serve: Callable[..., Server], recording: Path
) -> None:
    server = serve("--workers", "1", endpoints="whisper")
    with server.http() as http:
        reference = http.get(transcribe(http, recording), params={"wait": 60}).json()
        expected = http.get(reference["response_url"]).json()["response"]

        poll_url = transcribe(http, recording)
        saved = wait_until(lambda: http.get(poll_url).json().get("partial_outputs"), what="a checkpoint")
        state = http.get(poll_url).json()
        assert state["status"] == "running", "killed before the last window: there is work left to resume"
        (worker,) = server.workers()
        os.kill(worker, signal.SIGKILL)
        state = http.get(poll_url, params={"wait": 60}).json()
        resumed = http.get(state["response_url"]).json()["response"]
        pieces = http.get(f"{poll_url}/partial").json()["outputs"]
    assert (state["status"], state["attempts"]) == ("completed", 2)
    assert resumed["text"] == expected["text"]
    assert [s["text"] for s in resumed["segments"]] == [s["text"] for s in expected["segments"]]
    # Resumed, not started over: what the first attempt saved was not decoded and saved again.
    assert saved < len(pieces) and pieces == resumed["segments"]
    assert "resumes from its checkpoint" in server.log()


def test_a_cancel_stops_the_model_and_the_worker_serves_the_next_request(
    serve: Callable[..., Server],
) -> None:
    server = serve("--workers", "1", "--cancel-grace", "1s", endpoints=f"echo,{SLEEPS}")
    workers = set(server.workers())
    with server.http() as http:
        running = started(http, "/echo/predict", {"delay_s": 30})
        assert http.post(f"{running}/cancel").json()["status"] == "cancelled"
        after = http.post("/echo/predict", json={"n": 1}, headers=ASYNC).json()
        # The one echo worker is free long before the 29 s the cancelled work had left.
        assert http.get(after["poll_url"], params={"wait": 20}).json()["status"] == "completed"
        assert set(server.workers()) == workers, "a model that stops keeps its worker"

        stuck = started(http, "/sleeps/predict", {"seconds": 60})
        assert http.post(f"{stuck}/cancel").json()["status"] == "cancelled"
        after = http.post("/sleeps/predict", json={}, headers=ASYNC).json()
        assert http.get(after["poll_url"], params={"wait": 20}).json()["status"] == "completed"
    assert set(server.workers()) != workers, "a model that would not stop took its worker with it"
    assert "was cancelled and its model did not stop within 1 s" in server.log()


def test_a_timeout_stops_a_model_that_cooperates_without_replacing_its_worker(
    serve: Callable[..., Server],
) -> None:
    server = serve("--workers", "1", "--timeout", "1s")
    workers = server.workers()
    with server.http() as http:
        state = http.get(started(http, "/echo/predict", {"delay_s": 30}), params={"wait": 20}).json()
        assert (state["status"], state["error"]["message"]) == ("failed", "timed out after 1 s")
        after = http.post("/echo/predict", json={"n": 1}, headers=ASYNC).json()
        assert http.get(after["poll_url"], params={"wait": 20}).json()["status"] == "completed"
    assert server.workers() == workers


def started(http: httpx.Client, path: str, body: dict[str, object]) -> str:
    """Submit, and return the request's URL once it runs."""
    poll_url = str(http.post(path, json=body, headers=ASYNC).json()["poll_url"])
    wait_until(lambda: http.get(poll_url).json()["status"] == "running", what="the request to run")
    return poll_url
