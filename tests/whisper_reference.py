"""Whisper run in process, as a faster-whisper user would: what the server must match.

The model and its settings come from ``inferq.models.whisper`` and the defaults from
``Whisper.infer``'s signature, but the file is decoded by faster-whisper itself, so a
transcript equal to the server's also checks the server's own decoding.
"""

from __future__ import annotations

import functools
import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferq.models.whisper import Whisper, load_model
from inferq.models.whisper_config import WhisperConfig

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

#: ``Whisper.infer`` inputs whose faster-whisper argument has another name.
_ARGUMENT_NAMES = {"prompt": "initial_prompt"}


def direct_transcribe(path: Path | str, **opts: Any) -> str:
    """The text faster-whisper gives for ``path`` with the server's defaults.

    ``opts`` are ``WhisperModel.transcribe`` arguments (``initial_prompt``, not ``prompt``).
    """
    segments, _ = _model().transcribe(str(path), **{**_server_defaults(), **opts})
    return "".join(segment.text for segment in segments).strip()


@functools.cache
def _model() -> WhisperModel:
    """Loaded once per test session, from the environment as it was then."""
    return load_model(WhisperConfig.of("whisper"))


def _server_defaults() -> dict[str, Any]:
    parameters = inspect.signature(Whisper.infer).parameters
    return {
        _ARGUMENT_NAMES.get(name, name): parameter.default
        for name, parameter in parameters.items()
        if name not in ("self", "audio")
    }
