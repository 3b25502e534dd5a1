"""``inferq transcribe`` as a user runs it: a folder of recordings against a real Whisper server."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from inferq.cli.transcribe import output_paths
from tests.conftest import Server, inferq

SPOKEN = "She sells seashells by the seashore."
CUE = re.compile(
    r"^(\d+)\n(\d\d):(\d\d):(\d\d),(\d{3}) --> (\d\d):(\d\d):(\d\d),(\d{3})\n(.+)$", re.MULTILINE
)
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
CURSOR = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The seed's sentence spoken into three containers, made once per module."""
    from tests.audio import make_speech

    folder = tmp_path_factory.mktemp("speech")
    return [
        make_speech(folder / f"{name}.{fmt}", SPOKEN, fmt=fmt)
        for name, fmt in (("one", "wav"), ("two", "mp3"), ("three", "flac"))
    ]


@pytest.fixture
def recordings(tmp_path: Path, speech: list[Path]) -> Path:
    """A fresh folder holding the three recordings, for outputs to land beside."""
    folder = tmp_path / "recordings"
    folder.mkdir()
    for file in speech:
        shutil.copy(file, folder)
    return folder


def transcribe(server: Server, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = inferq(
        "transcribe",
        "--url",
        server.url,
        *args,
        env={"INFERQ_TOKEN": server.token, **(env or {})},
        check=False,
    )
    return result.returncode, result.stdout, result.stderr


def last_bar(stderr: str) -> str:
    """The progress bar as it was last drawn: the text between cursor moves, without colours."""
    text = CURSOR.sub("\n", COLOUR.sub("", stderr))
    frames = [line for line in re.split(r"[\r\n]", text) if "Transcribing" in line]
    assert frames, f"no progress bar in {stderr!r}"
    return frames[-1]


def test_a_folder_becomes_text_files_beside_the_recordings_with_a_progress_bar(
    whisper_server: Server, recordings: Path
) -> None:
    code, stdout, stderr = transcribe(whisper_server, str(recordings), "--progress", env={"COLUMNS": "100"})
    assert code == 0, stderr
    for name in ("one", "two", "three"):
        assert "she sells seashells" in (recordings / f"{name}.txt").read_text().lower()
    bar = last_bar(stderr)
    assert "3/3" in bar and "3 done" in bar
    assert "\x1b[" in stderr  # drawn as on a terminal
    assert stdout == ""


def test_srt_files_hold_valid_numbered_cues(whisper_server: Server, recordings: Path, tmp_path: Path) -> None:
    out = tmp_path / "subtitles"
    code, _, stderr = transcribe(
        whisper_server, str(recordings), "--format", "srt", "--output-dir", str(out), "--no-progress"
    )
    assert code == 0, stderr
    assert "Transcribing" not in stderr and f"{recordings / 'one.wav'} -> {out / 'one.srt'}" in stderr
    assert sorted(p.name for p in out.iterdir()) == ["one.srt", "three.srt", "two.srt"]
    for srt in out.iterdir():
        cues = CUE.findall(srt.read_text())
        assert cues and [int(cue[0]) for cue in cues] == list(range(1, len(cues) + 1))
        for cue in cues:
            h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, cue[1:9])
            assert (h1, m1, s1, ms1) < (h2, m2, s2, ms2)
        assert "seashells" in " ".join(cue[9] for cue in cues).lower()
    assert not list(recordings.glob("*.srt"))


def test_a_file_that_is_not_audio_fails_alone_and_is_named(whisper_server: Server, recordings: Path) -> None:
    (recordings / "broken.ogg").write_text("this is not audio")
    (recordings / "notes.txt").write_text("not an audio suffix: never sent")
    code, _, stderr = transcribe(whisper_server, str(recordings))
    assert code == 1
    failed = [line for line in stderr.splitlines() if line.startswith("failed:")]
    assert len(failed) == 1 and "broken.ogg" in failed[0] and "not audio" in failed[0]
    assert "Error: 1 of 4 files failed" in stderr
    assert all((recordings / f"{name}.txt").exists() for name in ("one", "two", "three"))
    assert not (recordings / "broken.txt").exists()
    assert (recordings / "notes.txt").read_text().startswith("not an audio suffix")


def test_stdout_gets_the_subtitles_and_no_file_is_written(whisper_server: Server, recordings: Path) -> None:
    code, stdout, stderr = transcribe(
        whisper_server, str(recordings / "one.wav"), "--stdout", "--format", "vtt"
    )
    assert code == 0, stderr
    assert stdout.startswith("WEBVTT\n\n")
    assert re.search(r"^00:00:\d\d\.\d{3} --> 00:00:\d\d\.\d{3}$", stdout, re.MULTILINE)
    assert "seashells" in stdout.lower()
    assert sorted(p.name for p in recordings.iterdir()) == ["one.wav", "three.flac", "two.mp3"]


def test_json_to_stdout_is_the_whole_output_with_words(whisper_server: Server, recordings: Path) -> None:
    code, stdout, stderr = transcribe(
        whisper_server, str(recordings / "two.mp3"), "--stdout", "--format", "json", "--word-timestamps"
    )
    assert code == 0, stderr
    response = json.loads(stdout)["response"]
    assert "seashells" in response["text"].lower()
    assert response["segments"][0]["words"][0]["word"].strip()


def test_several_files_to_stdout_come_in_the_order_given_under_headers(
    whisper_server: Server, recordings: Path
) -> None:
    files = [str(recordings / name) for name in ("two.mp3", "one.wav")]
    code, stdout, _ = transcribe(whisper_server, *files, "--stdout")
    assert code == 0
    headers = [line for line in stdout.splitlines() if line.startswith("==> ")]
    assert headers == [f"==> {files[0]} <==", f"==> {files[1]} <=="]


def test_follow_prints_the_text_as_it_comes_then_writes_the_file(
    whisper_server: Server, recordings: Path
) -> None:
    code, stdout, stderr = transcribe(whisper_server, str(recordings / "one.wav"), "--follow")
    assert code == 0, stderr
    assert stdout.strip().lower().rstrip(".") == SPOKEN.lower().rstrip(".")
    assert (recordings / "one.txt").read_text().strip() == stdout.strip()
    assert f"{recordings / 'one.wav'} -> {recordings / 'one.txt'}" in stderr
    several = transcribe(whisper_server, str(recordings), "--follow")
    assert several[0] == 2 and "--follow follows one file, got 3" in several[2]


def test_server_trouble_is_one_line_and_exit_3(whisper_server: Server, recordings: Path) -> None:
    wrong_token = transcribe(whisper_server, str(recordings), "--token", "iq_wrong")
    unknown_endpoint = transcribe(whisper_server, str(recordings), "--endpoint", "nope")
    for code, _, stderr in (wrong_token, unknown_endpoint):
        assert code == 3
        assert stderr.count("\n") == 1 and stderr.startswith("Error: "), stderr
    assert "HTTP 401" in wrong_token[2] and "HTTP 404" in unknown_endpoint[2]


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert inferq("transcribe", str(tmp_path / "missing.wav"), check=False).returncode == 2
    no_audio = inferq("transcribe", str(tmp_path / "empty"), check=False)
    assert no_audio.returncode == 2 and "no audio files in" in no_audio.stderr
    (tmp_path / "a.wav").touch()
    both = inferq(
        "transcribe",
        str(tmp_path / "a.wav"),
        "--stdout",
        "--output-dir",
        "out",
        env={"INFERQ_TOKEN": "iq_x"},
        check=False,
    )
    assert both.returncode == 2 and "exclude each other" in both.stderr


def test_outputs_that_would_collide_or_overwrite_an_input_keep_the_whole_name(tmp_path: Path) -> None:
    files = [tmp_path / "a.wav", tmp_path / "a.mp3", tmp_path / "b.flac", tmp_path / "c.txt"]
    assert output_paths(files, ".txt", None) == {
        files[0]: tmp_path / "a.wav.txt",
        files[1]: tmp_path / "a.mp3.txt",
        files[2]: tmp_path / "b.txt",
        files[3]: tmp_path / "c.txt.txt",
    }
    assert output_paths(files[2:3], ".srt", tmp_path / "out") == {files[2]: tmp_path / "out" / "b.srt"}
