"""Bad audio: a clear 422 synchronously, ``failed`` with the reason asynchronously; the worker goes on."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from tests.audio import SEASHELLS, make_speech
from tests.conftest import Server, b64

ASYNC = {"X-OctoAI-Async": "1"}


def _silence(tmp: Path) -> str:
    path = tmp / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "16000", "-c", "1", str(path), "trim", "0", "3"], check=True)
    return b64(path)


def _long(tmp: Path) -> str:
    clip = make_speech(tmp / "one.wav", SEASHELLS)
    path = tmp / "long.wav"
    subprocess.run(["sox", *[str(clip)] * 12, str(path)], check=True)  # ~30 s, over the 20 s limit
    return b64(path)


def _truncated(tmp: Path) -> str:
    clip = make_speech(tmp / "clip.mp3", SEASHELLS, fmt="mp3")
    return base64.b64encode(clip.read_bytes()[:200]).decode()


CASES = {
    "not-base64": (lambda tmp: "this is not base64 !!!", "base64"),
    "empty": (lambda tmp: "", "empty"),
    "truncated": (_truncated, "audio"),
    "not-audio": (lambda tmp: base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 500).decode(), "audio"),
    "silence": (_silence, "silent"),
    "too-long": (_long, "20"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_audio_is_refused_clearly_and_the_worker_goes_on(
    whisper_server: Server, seashells: Path, tmp_path: Path, case: str
) -> None:
    make, needle = CASES[case]
    audio = make(tmp_path)
    with whisper_server.http() as http:
        sync = http.post("/whisper/predict", json={"audio": audio})
        assert sync.status_code == 422, sync.text
        assert sync.json()["error"]["type"] == "invalid_input"
        assert needle in sync.json()["error"]["message"]
        future = http.post("/whisper/predict", json={"audio": audio}, headers=ASYNC).json()
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        assert state["status"] == "failed"
        assert state["error"]["type"] == "invalid_input"
        assert needle in state["error"]["message"]
        good = http.post("/whisper/predict", json={"audio": b64(seashells)})
    assert good.status_code == 200


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        ({"task": "translate"}, "task"),
        ({"language": "fr"}, "language"),
        ({"task": "summarise"}, "task"),
        ({"beam_size": 0}, "beam_size"),
        ({"audio": 5}, "audio"),
    ],
    ids=[
        "translate-on-english-model",
        "french-on-english-model",
        "unknown-task",
        "beam-0",
        "audio-not-string",
    ],
)
def test_options_the_model_cannot_honour_are_422_naming_the_field(
    whisper_server: Server, seashells: Path, inputs: dict[str, object], field: str
) -> None:
    with whisper_server.http() as http:
        answer = http.post("/whisper/predict", json={"audio": b64(seashells), **inputs})
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error.get("field", field) == field
    assert field in error["message"] or error.get("field") == field


def test_healthcheck_is_ready_once_the_model_is_loaded(whisper_server: Server) -> None:
    with whisper_server.http() as http:
        assert http.get("/whisper/healthcheck").json()["status"] == "ready"
