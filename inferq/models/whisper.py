"""Whisper: speech to text with faster-whisper, from weights installed beside the code.

The gateway imports this module only to read ``infer``'s signature and a request's
:meth:`~Whisper.cost`, so faster-whisper and numpy are imported in the worker, when the model
loads or audio is decoded, and PyAV when audio is read.
How each endpoint runs (model, device, threads, batching) is :mod:`inferq.models.whisper_config`;
the forms of its transcript, :mod:`inferq.models.whisper_formats`.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, cast

from pydantic import Field

from inferq.domain.scheduling import DEFAULT_COST
from inferq.errors import InvalidInput
from inferq.models.audio_duration import audio_seconds
from inferq.models.whisper_config import WhisperConfig, default_workers, model_version
from inferq.models.whisper_formats import FORMATS
from inferq.service.base import Example, Rendering, Service
from inferq.service.running import Resume, checkpoint, report_progress, resumed
from inferq.types import Audio

if TYPE_CHECKING:
    from faster_whisper import WhisperModel  # type: ignore[import-untyped]


log = logging.getLogger(__name__)

#: Whisper's feature frames per second of audio: a window's position (``seek``) is in frames.
FRAMES_PER_SECOND = 100
#: A window decoded above this temperature is not used as the next one's prompt
#: (faster-whisper's default, passed explicitly: a resume rebuilds the prompt by it).
PROMPT_RESET_ON_TEMPERATURE = 0.5


def load_model(config: WhisperConfig) -> WhisperModel:
    """The model on the configured device, from local files only."""
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(config.model),
        device=config.device,
        compute_type=config.compute_type,
        cpu_threads=config.cpu_threads,
        local_files_only=True,
    )


class Whisper(Service):
    """Transcribes speech (or translates it into English) with OpenAI's Whisper."""

    example = Example(
        inputs={"audio": "<base64 of she_sells_seashells.wav>", "language": "en", "task": "transcribe"},
        output={
            "response": {
                "text": "She sells seashells by the seashore.",
                "task": "transcribe",
                "language": "en",
                "duration": 2.915,
                "segments": [
                    {
                        "id": 1,
                        "seek": 0,
                        "start": 0.0,
                        "end": 3.0,
                        "text": " She sells seashells by the seashore.",
                        "tokens": [50363, 1375, 16015, 21547, 12758, 82, 416, 262, 384, 1077, 382, 13, 50513],
                        "temperature": 0.0,
                        "avg_logprob": -0.361,
                        "compression_ratio": 1.029,
                        "no_speech_prob": 0.032,
                    }
                ],
            }
        },
    )
    formats: ClassVar[Mapping[str, Rendering]] = FORMATS

    @classmethod
    def default_workers(cls) -> int:
        return default_workers()

    @classmethod
    def cost(cls, inputs: Mapping[str, Any], files: Mapping[str, Path]) -> float:
        """Seconds of audio, as its container's header states them; audio it cannot read
        counts as :data:`~inferq.domain.scheduling.DEFAULT_COST` (the worker says why)."""
        seconds = audio_seconds(inputs.get("audio"), files.get("audio"))
        return DEFAULT_COST if seconds is None else seconds

    @classmethod
    def version(cls, endpoint: str) -> str:
        return model_version(endpoint)

    def setup(self) -> None:
        config = WhisperConfig.of(self.endpoint)
        self.batch_size, self.batch_wait_s = config.batch_size, config.batch_wait_s
        self._max_duration_s = config.max_duration_s
        self._model = load_model(config)
        log.info(
            "%s: %s on %s (%s), %d CPU threads, batches of up to %d",
            self.endpoint,
            config.model,
            config.device,
            config.compute_type,
            config.cpu_threads,
            config.batch_size,
        )

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
                    _row({**segment, "id": number}, options) for number, segment in enumerate(segments, 1)
                ]
                duration = len(samples) / SAMPLE_RATE
                results[index] = _response(rows, options["task"], options["language"], duration)
        return results

    def _decode(self, audio: Path, options: dict[str, Any]) -> Any:
        from inferq.models.audio_decode import decode_audio_file

        self._check_language(options["language"], options["task"])
        return decode_audio_file(audio, max_duration_s=self._max_duration_s)

    def _transcribe(self, samples: Any, options: dict[str, Any]) -> dict[str, Any]:
        """One clip, decoded window by window. Once a window is done (the next one's first
        segment arrives), its segments are saved in a checkpoint with the position of the
        next: callers see them as they come, and an attempt that is lost resumes there.
        With ``vad_filter`` the decoded audio is not the file's, so it starts over instead."""
        checkpoints = not options["vad_filter"]
        resume = resumed() if checkpoints else None
        rows: list[dict[str, Any]] = list(resume.outputs) if resume else []
        segments, info = self._model.transcribe(samples, **self._decoding(options, resume))
        language = resume.state["language"] if resume else info.language
        unsaved: list[dict[str, Any]] = []
        for segment in segments:  # decoded lazily, one window at a time
            if checkpoints and unsaved and segment.seek != unsaved[-1]["seek"]:
                checkpoint({"seek": segment.seek, "language": language}, unsaved)
                unsaved = []
            row = _row({**dataclasses.asdict(segment), "id": len(rows) + 1}, options)
            rows.append(row)
            unsaved.append(row)
            if info.duration > 0:
                report_progress(segment.end / info.duration)
        if checkpoints:  # the partial output then holds the whole transcript
            checkpoint({"seek": round(info.duration * FRAMES_PER_SECOND), "language": language}, unsaved)
        return _response(rows, options["task"], language, info.duration)

    def _decoding(self, options: dict[str, Any], resume: Resume | None) -> dict[str, Any]:
        """faster-whisper's arguments; resuming, from the checkpoint's position, with the
        language and the prompt (the text decoded so far) that decoding had there, so the
        rest decodes as it would have without the interruption."""
        decoding = {
            "language": options["language"],
            "task": options["task"],
            "initial_prompt": options["prompt"],
            "word_timestamps": options["word_timestamps"],
            "vad_filter": options["vad_filter"],
            "beam_size": options["beam_size"],
            "temperature": options["temperature"],
            "condition_on_previous_text": True,
            "prompt_reset_on_temperature": PROMPT_RESET_ON_TEMPERATURE,
        }
        if resume is None:
            return decoding
        prompt = options["prompt"]
        tokens = (
            []
            if prompt is None
            else self._model.hf_tokenizer.encode(" " + prompt.strip(), add_special_tokens=False).ids
        )
        for _, window in itertools.groupby(resume.outputs, key=lambda row: row["seek"]):
            segments = list(window)
            tokens += [token for row in segments for token in row["tokens"]]
            if segments[0]["temperature"] > PROMPT_RESET_ON_TEMPERATURE:
                tokens = []
        decoding.update(
            language=resume.state["language"],
            initial_prompt=tokens,
            clip_timestamps=[resume.state["seek"] / FRAMES_PER_SECOND],
        )
        return decoding

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


def _response(rows: list[dict[str, Any]], task: str, language: str, duration: float) -> dict[str, Any]:
    text = "".join(row["text"] for row in rows).strip()
    response = {"text": text, "task": task, "language": language, "duration": _rounded(duration)}
    return {"response": {**response, "segments": rows}}


def _row(segment: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """A segment with OpenAI's fields (:data:`~inferq.models.whisper_formats.SEGMENT_FIELDS`),
    from faster-whisper's one-by-one or batched decoding alike."""
    row: dict[str, Any] = {
        "id": segment["id"],
        "seek": segment["seek"],
        "start": _rounded(segment["start"]),
        "end": _rounded(segment["end"]),
        "text": segment["text"],
        "tokens": list(segment["tokens"]),
        "temperature": segment.get("temperature", options["temperature"]),
        "avg_logprob": _rounded(segment["avg_logprob"]),
        "compression_ratio": _rounded(segment["compression_ratio"]),
        "no_speech_prob": _rounded(segment["no_speech_prob"]),
    }
    if options["word_timestamps"]:
        row["words"] = [_word(word) for word in segment.get("words") or []]
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
