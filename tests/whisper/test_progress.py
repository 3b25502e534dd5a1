"""Whisper reports its progress as it decodes: a long clip's event stream shows it move."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from httpx_sse import connect_sse

from tests.audio import make_speech
from tests.conftest import Server, b64

# About a minute of speech: Whisper decodes 30-second windows, and reports after each.
LONG_TEXT = " ".join(
    f"Paragraph {n}. The quick brown fox jumps over the lazy dog, and the five boxing wizards jump quickly."
    for n in range(1, 13)
)


@pytest.fixture(scope="module")
def long_whisper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("whisper-long")
    server = Server(f"sqlite:///{tmp / 'inferq.db'}", ["--endpoints", "whisper"], tmp / "serve.log")
    server.start(wait_for=("whisper",))
    yield server
    server.stop()


def test_a_long_transcription_streams_its_progress(long_whisper_server: Server, tmp_path: Path) -> None:
    clip = make_speech(tmp_path / "long.wav", LONG_TEXT)
    with long_whisper_server.http() as http:
        future = http.post(
            "/whisper/predict", json={"audio": b64(clip), "beam_size": 1}, headers={"Prefer": "respond-async"}
        ).json()
        with connect_sse(http, "GET", f"/v1/requests/{future['response_id']}/events") as source:
            events = [(sse.event, sse.json()) for sse in source.iter_sse() if sse.event != "message"]
        result = http.get(f"/v1/requests/{future['response_id']}/response").json()["response"]
    assert result["duration"] > 35, "the clip must span more than one 30 s window"
    progress = [state["progress"] for kind, state in events if kind == "progress"]
    assert progress, [kind for kind, _ in events]
    assert all(0 < p < 1 for p in progress[:-1]) and progress == sorted(progress)
    assert events[-1][0] == "completed"
    assert "quick brown fox" in result["text"]
