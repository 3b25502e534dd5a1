"""A request's cost: Whisper's is the seconds of audio its container states, however the audio
came; audio it cannot read counts as the default. Echo's is its ``delay_s`` and a request's overhead."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest

from inferq.domain.files import file_ref, new_file_id
from inferq.domain.scheduling import DEFAULT_COST
from inferq.models.echo import REQUEST_S, Echo
from inferq.models.whisper import Whisper
from tests.audio import AV_CODECS, SEASHELLS, SOX_FORMATS, make_speech
from tests.conftest import b64

#: Two sentences, so that no format's duration is near the default cost by chance.
SPEECH = f"{SEASHELLS} {SEASHELLS}"
#: Every container ``tests.audio`` makes, at the rate and channels of a phone and of a recorder.
FORMATS = [
    pytest.param(fmt, rate, channels, id=f"{fmt}-{rate}-{channels}ch")
    for fmt in sorted(SOX_FORMATS) + sorted(AV_CODECS)
    for rate, channels in [(16000, 1), (48000, 2)]
]


def soxi_seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], check=True, capture_output=True, text=True).stdout)


def speech_and_seconds(tmp: Path, fmt: str, rate: int, channels: int) -> tuple[Path, float]:
    """Speech in ``fmt``, and its seconds by soxi: of the file itself where sox reads the
    container, else of the same speech as WAV (the encoder adds a few milliseconds at most)."""
    path = make_speech(tmp / f"speech.{fmt}", SPEECH, rate=rate, channels=channels, fmt=fmt)
    if fmt in SOX_FORMATS:
        return path, soxi_seconds(path)
    wav = make_speech(tmp / "speech.wav", SPEECH, rate=rate, channels=channels)
    return path, soxi_seconds(wav)


@pytest.mark.parametrize(("fmt", "rate", "channels"), FORMATS)
def test_whisper_costs_the_seconds_of_audio_sent_as_base64_or_as_a_file(
    tmp_path: Path, fmt: str, rate: int, channels: int
) -> None:
    path, seconds = speech_and_seconds(tmp_path, fmt, rate, channels)
    assert seconds > 5
    assert Whisper.cost({"audio": b64(path)}, {}) == pytest.approx(seconds, abs=0.1)
    uploaded = {"audio": file_ref(new_file_id())}
    assert Whisper.cost(uploaded, {"audio": path}) == pytest.approx(seconds, abs=0.1)


def test_long_base64_with_line_breaks_or_a_data_uri_costs_its_seconds(tmp_path: Path) -> None:
    """Megabytes of base64, read a piece at a time, with line breaks across the pieces."""
    path = tmp_path / "tone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "16000", "-c", "1", str(path), "synth", "150", "sine", "440"], check=True
    )
    encoded = base64.encodebytes(path.read_bytes()).decode()
    assert len(encoded) > 4 << 20
    seconds = soxi_seconds(path)
    for audio in [encoded, f"data:audio/wav;base64,{encoded}", encoded.replace("\n", "").rstrip("=")]:
        assert Whisper.cost({"audio": audio}, {}) == pytest.approx(seconds, abs=0.1)


def _garbage_file(tmp: Path) -> Path:
    path = tmp / "garbage.wav"
    path.write_bytes(b"RIFF\xff\xff\x00\x00WAVE" + bytes(range(256)) * 8)
    return path


UNREADABLE = {
    "no-audio": (lambda tmp: {}, lambda tmp: {}),
    "null": (lambda tmp: {"audio": None}, lambda tmp: {}),
    "empty": (lambda tmp: {"audio": ""}, lambda tmp: {}),
    "not-base64": (lambda tmp: {"audio": "this is not base64 !!!"}, lambda tmp: {}),
    "not-audio": (
        lambda tmp: {"audio": base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 500).decode()},
        lambda tmp: {},
    ),
    "random-bytes": (
        lambda tmp: {"audio": base64.b64encode(bytes(range(256)) * 16).decode()},
        lambda tmp: {},
    ),
    "url": (lambda tmp: {"audio": "https://example.com/speech.wav"}, lambda tmp: {}),
    "upload-not-local": (lambda tmp: {"audio": file_ref(new_file_id())}, lambda tmp: {}),
    "garbage-file": (lambda tmp: {}, lambda tmp: {"audio": _garbage_file(tmp)}),
    "missing-file": (lambda tmp: {}, lambda tmp: {"audio": tmp / "gone.wav"}),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
def test_audio_that_cannot_be_read_costs_the_default(tmp_path: Path, case: str) -> None:
    inputs, files = UNREADABLE[case]
    assert Whisper.cost(inputs(tmp_path), files(tmp_path)) == DEFAULT_COST == 1.0


def test_echo_costs_its_delay_and_a_requests_overhead() -> None:
    assert Echo.cost({"delay_s": 2.5, "hello": "world"}, {}) == pytest.approx(2.5 + REQUEST_S)
    assert Echo.cost({"delay_s": 3}, {}) == pytest.approx(3 + REQUEST_S)
    assert Echo.cost({"hello": "world"}, {}) == Echo.cost({}, {}) == REQUEST_S
