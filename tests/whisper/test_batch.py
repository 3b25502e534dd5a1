"""Whisper's batch form: clips that arrive together decode in one call, word for word as one by one."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio import SEASHELLS, make_speech
from tests.conftest import Server, b64
from tests.whisper_reference import direct_transcribe

TEXTS = [
    SEASHELLS,
    "The quick brown fox jumps over the lazy dog.",
    "Peter Piper picked a peck of pickled peppers.",
    "How much wood would a woodchuck chuck.",
]


@pytest.fixture(scope="module")
def batching_whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("whisper-batch")
    server = Server(
        f"sqlite:///{tmp / 'inferq.db'}",
        ["--endpoints", "whisper"],
        tmp / "serve.log",
        env={"INFERQ_WHISPER_BATCH_SIZE": "8", "INFERQ_WHISPER_BATCH_WAIT_S": "0.5"},
    )
    server.start(wait_for=("whisper",))
    yield server
    server.stop()


def test_clips_decoded_together_read_as_decoded_one_by_one(batching_whisper: Server, tmp_path: Path) -> None:
    clips = [make_speech(tmp_path / f"clip{i}.wav", text) for i, text in enumerate(TEXTS)]
    inputs = [{"audio": b64(clip)} for clip in clips]
    inputs.append({"audio": base64.b64encode(b"not audio at all").decode()})
    inputs.append({"audio": b64(clips[0]), "word_timestamps": True})
    with batching_whisper.http() as http:
        futures = http.post("/whisper/batch", json={"inputs": inputs}).json()["results"]
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [
            http.get(s["response_url"]).json()["response"] for s in states if s["status"] == "completed"
        ]
    assert [s["status"] for s in states] == ["completed"] * 4 + ["failed", "completed"]
    assert states[4]["error"]["type"] == "invalid_input"
    assert [o["text"] for o in outputs[:4]] == [direct_transcribe(clip) for clip in clips]
    assert all(o["language"] == "en" and 1 < o["duration"] < 10 for o in outputs)
    words = outputs[4]["segments"][0]["words"]
    assert [w["word"].strip(" .") for w in words[:3]] == ["She", "sells", "seashells"]
