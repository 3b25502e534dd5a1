"""How many seconds of audio a file input holds, read from its container's header.

This is the cost of a Whisper request, estimated in the gateway at submit, so nothing here
decodes a frame: FFmpeg reads the header (an Ogg file's last page too) with the GIL
released. Audio it cannot read has no duration; it is not refused here: the worker
judges it and tells the client why (:mod:`inferq.models.audio_decode`).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from pathlib import Path
from typing import Any, BinaryIO

from inferq.domain.files import is_url, referenced_file

_DATA_URI = re.compile(r"^data:[^,]*;base64,", re.IGNORECASE)
#: Base64 characters decoded at a time; the GIL is free between pieces.
_PIECE = 1 << 20


def audio_seconds(value: Any, path: Path | None) -> float | None:
    """The duration of the audio at ``path`` (a file input given as a local file), else in
    ``value`` (base64, or a ``data:`` URI); None when it cannot be read: a URL, an upload's
    reference without its file, no audio, garbage, or no PyAV (a gateway without the model)."""
    if path is not None:
        try:
            with path.open("rb") as file:
                return _duration(file)
        except OSError:
            return None
    if not isinstance(value, str) or is_url(value) or referenced_file(value) is not None:
        return None
    data = _base64(value)
    return None if data is None else _duration(data)


def _base64(value: str) -> io.BytesIO | None:
    """The bytes the worker would decode (:mod:`inferq.worker.file_inputs`: strict base64,
    a ``data:`` prefix, line breaks and missing padding tolerated), a piece at a time: 64 MiB
    in one call would hold the GIL, and so the gateway's event loop, for a third of a second."""
    text = _DATA_URI.sub("", value.lstrip(), count=1)
    data, carry = io.BytesIO(), ""
    try:
        for start in range(0, len(text), _PIECE):
            piece = carry + "".join(text[start : start + _PIECE].split())
            whole = len(piece) - len(piece) % 4
            data.write(base64.b64decode(piece[:whole], validate=True))
            carry = piece[whole:]
        data.write(base64.b64decode(carry + "=" * (-len(carry) % 4), validate=True))
    except (binascii.Error, ValueError):
        return None
    if not data.tell():
        return None
    data.seek(0)
    return data


def _duration(file: BinaryIO) -> float | None:
    try:
        import av
    except ImportError:
        return None
    # FFmpeg may otherwise follow what the bytes say: an SDP file opens network sockets.
    options = {"protocol_whitelist": "file"}
    try:
        with av.open(file, mode="r", metadata_errors="ignore", options=options) as container:
            if not container.streams.audio:
                return None
            stream = container.streams.audio[0]
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                return None
    except Exception:  # noqa: BLE001 - PyAV raises many types for bad files; the worker says why
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
