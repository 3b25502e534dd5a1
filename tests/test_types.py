"""inferq.types through its public API: files to base64 and back, numpy, URLs, lazy imports."""

from __future__ import annotations

import base64
import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from inferq.types import Audio, File, Image, Text

PAYLOAD = bytes(range(256)) * 40

FILE_TYPES = [(Audio, "audio_b64"), (Image, "image_b64"), (File, "file_b64")]


@pytest.mark.parametrize(("kind", "field"), FILE_TYPES, ids=lambda v: getattr(v, "__name__", v))
def test_file_round_trip_keeps_every_byte(kind: type[Audio], field: str, tmp_path: Path) -> None:
    source, target = tmp_path / "in.bin", tmp_path / "out.bin"
    source.write_bytes(PAYLOAD)
    wrapped = kind.from_file(source)
    assert base64.b64decode(getattr(wrapped, field)) == PAYLOAD
    wrapped.to_file(target)
    assert target.read_bytes() == PAYLOAD


@pytest.mark.parametrize(("kind", "field"), FILE_TYPES, ids=lambda v: getattr(v, "__name__", v))
def test_from_base64_keeps_the_text(kind: type[Audio], field: str) -> None:
    b64 = base64.b64encode(PAYLOAD).decode()
    assert getattr(kind.from_base64(b64), field) == b64
    assert kind.from_base64(b64).to_bytes() == PAYLOAD


def test_from_base64_refuses_what_is_not_base64() -> None:
    with pytest.raises(ValueError, match="base64"):
        Audio.from_base64("not base64 at all!")


def test_the_field_is_what_octoai_calls_it() -> None:
    assert Audio(audio_b64="AAAA").model_dump() == {"audio_b64": "AAAA"}
    assert Text(text="hi").model_dump() == {"text": "hi"}


@pytest.mark.parametrize("channels", [1, 2])
def test_numpy_round_trip_within_int16_quantisation(channels: int) -> None:
    t = np.arange(16000) / 16000
    samples = np.stack([0.8 * np.sin(2 * np.pi * 440 * t * (c + 1)) for c in range(channels)], axis=1)
    samples = samples[:, 0] if channels == 1 else samples
    recovered, rate = Audio.from_numpy(samples, 16000).to_numpy()
    assert rate == 16000
    assert recovered.shape == samples.shape
    assert np.abs(recovered - samples).max() <= 0.5 / 32768


def test_int16_samples_come_back_exactly() -> None:
    pcm = np.array([0, 1, -1, 32767, -32768, 1234], dtype=np.int16)
    recovered, rate = Audio.from_numpy(pcm, 8000).to_numpy()
    assert rate == 8000
    assert np.array_equal(recovered * 32768, pcm)


def test_from_numpy_writes_a_wav_file() -> None:
    data = Audio.from_numpy(np.zeros(100, dtype=np.float32), 22050).to_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"


def test_to_numpy_reads_wav_without_pyav(monkeypatch: pytest.MonkeyPatch) -> None:
    audio = Audio.from_numpy(np.array([[0.25, -0.5], [0.5, -0.25]]), 44100)
    monkeypatch.setitem(sys.modules, "av", None)
    recovered, rate = audio.to_numpy()
    assert rate == 44100
    assert recovered.tolist() == [[0.25, -0.5], [0.5, -0.25]]


@pytest.mark.parametrize("samples", [np.zeros((2, 2, 2)), np.zeros(4, dtype=np.int32)])
def test_from_numpy_refuses_other_shapes_and_types(samples: np.ndarray) -> None:
    with pytest.raises((ValueError, TypeError)):
        Audio.from_numpy(samples, 16000)


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves PAYLOAD at /file, redirects /moved to it, and 404s the rest."""

    def do_GET(self) -> None:
        if self.path == "/file":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
            return
        self.send_response(302 if self.path == "/moved" else 404)
        self.send_header("Location", "/file")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output clean."""


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_from_url_downloads_the_file(file_server: str) -> None:
    assert Audio.from_url(f"{file_server}/file").to_bytes() == PAYLOAD


def test_from_url_follows_redirects_only_when_asked(file_server: str) -> None:
    with pytest.raises(httpx.HTTPStatusError):
        File.from_url(f"{file_server}/moved")
    assert File.from_url(f"{file_server}/moved", follow_redirects=True).to_bytes() == PAYLOAD


def test_from_url_raises_for_an_error_status(file_server: str) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="404"):
        Image.from_url(f"{file_server}/missing")


def test_pil_round_trip() -> None:
    pil = pytest.importorskip("PIL.Image")
    picture = pil.new("RGB", (3, 2), (255, 0, 0))
    assert Image.from_pil(picture).to_pil().getpixel((2, 1)) == (255, 0, 0)


def test_importing_types_loads_no_numpy_pyav_or_pillow() -> None:
    code = "import sys, inferq.types; print(sorted({'numpy', 'av', 'PIL'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
