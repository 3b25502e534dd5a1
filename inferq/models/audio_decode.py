"""An audio file of any container PyAV reads → 16 kHz mono float32 samples for Whisper.

Decoding follows ``faster_whisper.decode_audio`` step for step (s16 mono resampling,
frames fed without timestamps, int16 → float32), so the samples, and so the transcript,
are exactly faster-whisper's for the same file. Unlike it, a frame that fails to decode
rejects the file instead of being skipped, decoding stops as soon as the audio outgrows
its limit, and whatever the client sent that is not usable audio ends as
:class:`InvalidInput` naming ``audio``, never as a failure of the model.
"""

from __future__ import annotations

import gc
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from inferq.errors import InvalidInput
from inferq.service.running import Cancelled, cancelled

SAMPLE_RATE = 16000

#: Peak amplitude below which audio counts as silence (about -70 dBFS).
SILENCE_PEAK = 10 / 32768

#: RIFF sizes from here up are placeholders of writers that did not know the length.
WAV_UNKNOWN_SIZE = 0x7FFF0000


def decode_audio_file(path: Path, *, max_duration_s: float) -> np.ndarray:
    """The samples of the audio file at ``path``; :class:`InvalidInput` if they are unusable."""
    size = path.stat().st_size
    if size == 0:
        raise _invalid("audio is empty")
    with path.open("rb") as file:
        _check_wav_size(file.read(12), size)
        file.seek(0)
        try:
            samples = _decode(file, max_samples=int(max_duration_s * SAMPLE_RATE))
        except InvalidInput:
            raise
        except Exception as exc:  # PyAV raises many types for bad files; all are the client's
            raise _invalid(
                f"audio could not be decoded: it is damaged, truncated or not audio ({_reason(exc)})"
            ) from exc
    if samples.size == 0:
        raise _invalid("audio contains no samples")
    if np.abs(samples).max() < SILENCE_PEAK:
        raise _invalid("audio is silent")
    return samples


def _check_wav_size(header: bytes, size: int) -> None:
    """A WAV header states the file's size; PyAV plays a cut-off file without a word."""
    if header[:4] == b"RIFF" and header[8:12] == b"WAVE":
        stated = int.from_bytes(header[4:8], "little") + 8
        if stated < WAV_UNKNOWN_SIZE and size < stated:
            raise _invalid(f"audio is truncated: a WAV file of {stated} bytes, {size} arrived")


def _decode(file: BinaryIO, *, max_samples: int) -> np.ndarray:
    # FFmpeg may otherwise follow what the bytes say: an SDP file opens network sockets.
    options = {"protocol_whitelist": "file"}
    with av.open(file, mode="r", metadata_errors="ignore", options=options) as container:
        if not container.streams.audio:
            raise _invalid("audio has no audio stream")
        chunks: list[np.ndarray] = []
        total = 0
        for chunk in _resampled(container):
            if cancelled():  # an hour of MP3 takes seconds to decode: stop as soon as asked
                raise Cancelled
            total += chunk.size
            if total > max_samples:
                raise _too_long(max_samples)
            chunks.append(chunk)
    gc.collect()  # PyAV resamplers hold cycles; faster-whisper collects for the same reason
    samples = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.int16)
    return samples.astype(np.float32) / 32768.0


def _resampled(container: av.container.InputContainer) -> Iterator[np.ndarray]:
    """Mono s16 16 kHz chunks of the first audio stream, the resampler flushed at the end."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    for frame in itertools.chain(_untimed(container.decode(audio=0)), [None]):
        for resampled in resampler.resample(frame):
            yield resampled.to_ndarray().reshape(-1)


def _untimed(frames: Iterator[av.AudioFrame]) -> Iterator[av.AudioFrame]:
    """Frames without timestamps, as faster-whisper's FIFO hands them to its resampler."""
    for frame in frames:
        frame.pts = None
        yield frame


def _too_long(max_samples: int) -> InvalidInput:
    return _invalid(f"audio is longer than the limit of {max_samples / SAMPLE_RATE:g} seconds")


def _reason(exc: Exception) -> str:
    """FFmpeg's words without its errno and file name, else the exception's."""
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _invalid(message: str) -> InvalidInput:
    return InvalidInput(message, field="audio")
