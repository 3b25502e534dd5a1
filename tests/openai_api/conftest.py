"""A Whisper server per backend for OpenAI's routes: ``whisper``, ``short`` (a second Whisper
endpoint whose own setting refuses audio over a second) and ``echo``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audio import make_speech
from tests.conftest import BACKENDS, Server, chosen
from tests.shared_servers import drop_store, store_url

#: A few sentences of speech.
TALK = (
    "Speech recognition turns what people say into text. "
    "A long recording takes a while, so the server answers with a future. "
    "The transcript is collected when it is ready, from anywhere."
)


@pytest.fixture(scope="module", params=BACKENDS)
def speech_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("speech")
    server = Server(
        store_url(chosen(str(request.param)), tmp),
        ["--endpoints", "whisper,short=whisper,echo", "--workers", "1", "--sync-timeout", "120s"],
        tmp / "serve.log",
        env={"INFERQ_WHISPER_MAX_DURATION_S": "30", "INFERQ_WHISPER_MAX_DURATION_S__SHORT": "1"},
    )
    server.start(wait_for=("whisper", "short", "echo"))
    yield server
    server.stop()
    drop_store(server.backend)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:data:`TALK` spoken, as an MP3."""
    return make_speech(tmp_path_factory.mktemp("talk") / "talk.mp3", TALK, rate=44100, fmt="mp3")
