"""``--priority``, ``--deadline`` and ``--retention`` on the commands that submit, against real servers."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, inferq

OPTIONS = ("--priority", "low", "--deadline", "10m", "--retention", "1h")


def seconds_between(state: dict[str, Any], start: str, end: str) -> float:
    return (datetime.fromisoformat(state[end]) - datetime.fromisoformat(state[start])).total_seconds()


def assert_scheduled(state: dict[str, Any]) -> None:
    """What :data:`OPTIONS` ask for, in a completed request's status document."""
    assert state["status"] == "completed"
    assert state["priority"] == "low"
    assert seconds_between(state, "created_at", "deadline_at") == pytest.approx(600, abs=1)
    assert seconds_between(state, "completed_at", "expires_at") == pytest.approx(3600, abs=1)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.audio import SEASHELLS, make_speech

    return make_speech(tmp_path_factory.mktemp("speech") / "short.wav", SEASHELLS)


def test_transcribe_submits_with_the_options(whisper_server: Server, speech: Path, tmp_path: Path) -> None:
    audio = Path(shutil.copy(speech, tmp_path))
    result = inferq(
        "transcribe",
        str(audio),
        *OPTIONS,
        "--url",
        whisper_server.url,
        env={"INFERQ_TOKEN": whisper_server.token},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "seashells" in audio.with_suffix(".txt").read_text().lower()
    with whisper_server.http() as http:
        newest = http.get("/v1/requests", params={"limit": 1}).json()["results"][0]
    assert_scheduled(newest)


def test_infer_submits_with_the_options(echo_server: Server) -> None:
    env = {"INFERQ_URL": echo_server.url, "INFERQ_TOKEN": echo_server.token}
    submitted = inferq("infer", "echo", "-i", "n=1", "--async", *OPTIONS, env=env, check=False)
    assert submitted.returncode == 0, submitted.stderr
    response_id = json.loads(submitted.stdout)["response_id"]
    assert inferq("requests", "wait", response_id, "--timeout", "30s", env=env, check=False).returncode == 0
    shown = inferq("requests", "show", response_id, env=env, check=False)
    assert shown.returncode == 0, shown.stderr
    assert_scheduled(json.loads(shown.stdout))


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--priority", "asap"), "'asap' is not one of 'urgent', 'high', 'normal', 'low'"),
        (("--deadline", "soon"), "'soon' is not a duration"),
        (("--retention", "0"), "must be a positive duration"),
    ],
)
def test_a_bad_option_is_a_usage_error(tmp_path: Path, args: tuple[str, ...], says: str) -> None:
    (tmp_path / "a.wav").touch()
    for command in (("transcribe", str(tmp_path / "a.wav")), ("infer", "echo")):
        result = inferq(*command, *args, env={"INFERQ_TOKEN": "iq_x"}, check=False)
        assert result.returncode == 2 and says in result.stderr, result.stderr


def test_the_help_shows_the_options() -> None:
    for command in ("transcribe", "infer"):
        help_text = inferq(command, "--help", env={"COLUMNS": "100"}).stdout
        assert "--priority [urgent|high|normal|low]" in help_text
        assert "--deadline DURATION" in help_text and "--retention DURATION" in help_text
