"""Typed inputs and outputs, as in ``octoai.types``: files travel in JSON as base64.

``Audio.from_file("speech.wav").audio_b64`` is what a Whisper endpoint takes as ``audio``.
numpy, PyAV and Pillow are imported only by the methods that need them, so the SDK
does not depend on them.
"""

from __future__ import annotations

import base64
import binascii
import importlib.util
import io
import os
import wave
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import httpx
from pydantic import BaseModel, PrivateAttr

if TYPE_CHECKING:
    from typing import Self

    import numpy as np
    from PIL.Image import Image as PILImage  # type: ignore[import-not-found, unused-ignore]

__all__ = ["Audio", "File", "Image", "Text"]

_StrPath = str | os.PathLike[str]


class _Base64File(BaseModel):
    """A file held as base64 in the field named by ``_b64_field``; the logic all files share.

    One made ``from_file`` remembers its path, so the SDK streams it from disk as a
    multipart part when it is passed as an input itself (rather than as its base64).
    """

    _b64_field: ClassVar[str]
    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The file it was read from, if any."""
        return self._source

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        return cls.model_validate({cls._b64_field: base64.b64encode(data).decode("ascii")})

    @classmethod
    def from_base64(cls, b64: str) -> Self:
        """Wrap base64 text as it is; ``ValueError`` if it is not base64."""
        try:
            base64.b64decode(b64, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"not base64: {exc}") from None
        return cls.model_validate({cls._b64_field: b64})

    @classmethod
    def from_file(cls, path: _StrPath) -> Self:
        made = cls.from_bytes(Path(path).read_bytes())
        made._source = Path(path)
        return made

    @classmethod
    def from_url(cls, url: str, follow_redirects: bool = False, timeout: float = 30.0) -> Self:
        """Download ``url``; ``httpx.HTTPStatusError`` for an error (or unfollowed redirect)."""
        response = httpx.get(url, follow_redirects=follow_redirects, timeout=timeout)
        response.raise_for_status()
        return cls.from_bytes(response.content)

    def to_bytes(self) -> bytes:
        return base64.b64decode(getattr(self, self._b64_field))

    def to_file(self, path: _StrPath) -> None:
        Path(path).write_bytes(self.to_bytes())


#: The types that declare a file input of a Service (:mod:`inferq.service.schema`).
FILE_TYPES = (_Base64File,)


class Audio(_Base64File):
    """An audio file in any container the server decodes (wav, flac, mp3, ogg, m4a, webm)."""

    _b64_field: ClassVar[str] = "audio_b64"
    audio_b64: str

    @classmethod
    def from_numpy(cls, samples: np.ndarray, sample_rate: int) -> Audio:
        """16-bit WAV of float samples in [-1, 1] or int16, shaped (n,) or (n, channels)."""
        pcm = _int16(samples)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as wav:
            wav.setnchannels(1 if pcm.ndim == 1 else pcm.shape[1])
            wav.setsampwidth(2)
            wav.setframerate(sample_rate)
            wav.writeframes(pcm.astype("<i2").tobytes())
        return cls.from_bytes(buffer.getvalue())

    def to_numpy(self) -> tuple[np.ndarray, int]:
        """float32 samples, shaped (n,) or (n, channels), and the sample rate.

        PyAV decodes any container when it is installed; without it only WAV is read.
        """
        if importlib.util.find_spec("av") is None:
            return _wav_samples(self.to_bytes())
        return _av_samples(self.to_bytes())


class Image(_Base64File):
    """An image file (png, jpeg, webp, ...)."""

    _b64_field: ClassVar[str] = "image_b64"
    image_b64: str

    @classmethod
    def from_pil(cls, image: PILImage, format: str = "PNG") -> Image:
        buffer = io.BytesIO()
        image.save(buffer, format=format)
        return cls.from_bytes(buffer.getvalue())

    def to_pil(self) -> PILImage:
        from PIL import Image as PIL  # type: ignore[import-not-found, unused-ignore]

        return PIL.open(io.BytesIO(self.to_bytes()))


class File(_Base64File):
    """Any file, for endpoints that take documents or archives."""

    _b64_field: ClassVar[str] = "file_b64"
    file_b64: str


class Text(BaseModel):
    """Plain text, for symmetry with the file types."""

    text: str


def _int16(samples: Any) -> np.ndarray:
    import numpy as np

    array = np.asarray(samples)
    if array.ndim not in (1, 2):
        raise ValueError(f"samples must be shaped (n,) or (n, channels), not {array.shape}")
    if array.dtype == np.int16:
        return array
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(f"samples must be float or int16, not {array.dtype}")
    return np.clip(np.round(array * 32768), -32768, 32767).astype(np.int16)


def _av_samples(data: bytes) -> tuple[np.ndarray, int]:
    import av
    import numpy as np

    with av.open(io.BytesIO(data), mode="r") as container:
        stream = container.streams.audio[0]
        channels = stream.channels
        resampler = av.AudioResampler(format="flt", layout=stream.layout, rate=stream.rate)
        chunks = [
            resampled.to_ndarray().reshape(-1, channels)
            for frame in [*container.decode(stream), None]
            for resampled in resampler.resample(frame)
        ]
        rate = stream.rate
    return _squeeze(np.concatenate(chunks)), rate


def _wav_samples(data: bytes) -> tuple[np.ndarray, int]:
    import numpy as np

    with wave.open(io.BytesIO(data), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError("without PyAV only 16-bit WAV can be read; pip install av")
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        samples = pcm.reshape(-1, wav.getnchannels()).astype(np.float32) / 32768
        return _squeeze(samples), wav.getframerate()


def _squeeze(samples: np.ndarray) -> np.ndarray:
    """Mono as (n,), the shape ``from_numpy`` takes for it."""
    return samples[:, 0] if samples.shape[1] == 1 else samples
