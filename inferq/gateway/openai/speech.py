"""``POST /v1/audio/transcriptions`` and ``/v1/audio/translations``: OpenAI's speech API as
a door to the Whisper endpoints' queue.

The form (``file``, ``model``, ``language``, ``prompt``, ``response_format``,
``temperature``, ``timestamp_granularities[]``) becomes a Whisper endpoint's inputs and goes
through the shared submit use-case, so limits, fairness, durability and retention are the
other doors'. Without ``Prefer: respond-async`` (or ``X-OctoAI-Async: 1``) the call waits
for the transcript and answers in ``response_format``, as OpenAI's clients expect; with it,
the answer is inferq's 202 and the transcript is fetched in any format from
``GET /v1/requests/{id}/response?format=``.
"""

from __future__ import annotations

import functools
import inspect
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from inferq.errors import BadRequest, InvalidInput
from inferq.gateway.bodies import Body, decode_body
from inferq.gateway.multipart import MultipartReader
from inferq.gateway.multipart_inputs import file_input, form_text
from inferq.gateway.openai.door import admit, submit
from inferq.gateway.openai.models import model_endpoint
from inferq.gateway.state import state_of
from inferq.models.whisper import Whisper
from inferq.models.whisper_config import multilingual
from inferq.models.whisper_formats import openai_json

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.gateway.state import Endpoint
    from inferq.gateway.uploads import Uploads

RESPONSE_FORMATS = ("json", "text", "srt", "verbose_json", "vtt")
GRANULARITIES = ("word", "segment")
GRANULARITY_FIELD = "timestamp_granularities[]"
#: OpenAI parameters inferq does not honour, and why: refused by name rather than ignored.
UNSUPPORTED = {
    "chunking_strategy": "Whisper decodes the whole file in 30-second windows; there is no other chunking",
    "include[]": "token log probabilities are not returned by Whisper endpoints",
    "known_speaker_names[]": "Whisper endpoints do not label speakers",
    "known_speaker_references[]": "Whisper endpoints do not label speakers",
}
#: The Whisper input each form field becomes, where its name differs.
_INPUT_OF = {"file": "audio", GRANULARITY_FIELD: "word_timestamps"}
_FIELD_OF = {value: key for key, value in _INPUT_OF.items()} | {"task": "model"}
_WHISPER_INPUTS = frozenset(inspect.signature(Whisper.infer).parameters) - {"self"}


class SpeechForm:
    """A speech route's ``multipart/form-data`` body: the Whisper inputs as a :class:`Body`,
    and beside them the ``model`` and ``response_format`` the door itself reads."""

    description = "multipart/form-data"

    def __init__(self, uploads: Uploads, tenant: str, task: str) -> None:
        self.uploads = uploads
        self.tenant = tenant
        self.task = task
        self.model: str | None = None
        self.response_format = "json"

    def accepts(self, media_type: str) -> bool:
        return media_type == "multipart/form-data"

    async def decode(self, request: Request, max_bytes: int) -> Body:
        values: dict[str, Any] = {"task": self.task}
        compared: dict[str, Any] = {"task": self.task}
        fields: dict[str, list[str]] = {}
        stored: list[str] = []
        budget = max_bytes
        try:
            async for part in MultipartReader(request).parts():
                if part.name == "file":
                    if "audio" in values:
                        raise InvalidInput("file: given twice", field="file")
                    values["audio"], compared["audio"], size = await file_input(
                        self.uploads, self.tenant, part, budget, stored
                    )
                    budget -= size
                else:
                    raw = await part.read(budget)
                    budget -= len(raw)
                    fields.setdefault(part.name, []).append(form_text(part.name, raw))
            for name, value in self._inputs(fields).items():
                values[name] = compared[name] = value
        except BaseException:
            await self.uploads.discard(self.tenant, stored)
            raise
        if "audio" not in values:  # nothing was stored: a file part is all that stores
            raise InvalidInput("file: an audio file part is required", field="file")
        return Body(orjson.dumps(values), values, tuple(stored), compared)

    def _inputs(self, fields: dict[str, list[str]]) -> dict[str, Any]:
        """The Whisper inputs the text fields give; the door's own (``model``,
        ``response_format``) kept on the form. 422 naming a field that is wrong."""
        inputs: dict[str, Any] = {}
        for name, given in fields.items():
            repeatable = name == GRANULARITY_FIELD
            if len(given) > 1 and not repeatable:
                raise InvalidInput(f"{name}: given twice", field=name)
            value = given[0]
            if name == "model":
                self.model = value
            elif name == "response_format":
                self.response_format = _one_of(name, value, RESPONSE_FORMATS)
            elif name == "language" and self.task == "transcribe":
                inputs["language"] = value or None
            elif name == "prompt":
                inputs["prompt"] = value
            elif name == "temperature":
                inputs["temperature"] = _number(name, value)
            elif name == "stream":
                if value.lower() not in ("false", "0", ""):
                    raise InvalidInput(
                        "stream: transcripts are answered whole; to follow one as it is made, "
                        "call with Prefer: respond-async and read /v1/requests/{id}/events",
                        field=name,
                    )
            elif repeatable:
                granularities = {_one_of(name, each, GRANULARITIES) for each in given}
                inputs["word_timestamps"] = "word" in granularities
            elif name in UNSUPPORTED:
                raise InvalidInput(f"{name}: not supported: {UNSUPPORTED[name]}", field=name)
            else:
                raise InvalidInput(f"{name}: not a parameter of this route", field=name)
        if self.model is None:
            raise InvalidInput(
                "model: required (whisper-1, or an endpoint's name: see /v1/models)", field="model"
            )
        if "word_timestamps" in inputs and self.response_format != "verbose_json":
            raise InvalidInput(
                f"{GRANULARITY_FIELD}: timestamps come with response_format verbose_json only",
                field=GRANULARITY_FIELD,
            )
        inputs.setdefault("language", None)  # OpenAI's default: the model detects it
        return inputs


async def transcriptions(request: Request) -> Response:
    return await _speech(request, "transcribe")


async def translations(request: Request) -> Response:
    return await _speech(request, "translate")


async def _speech(request: Request, task: str) -> Response:
    admit(request)
    state, tenant = state_of(request), request.user.id
    form = SpeechForm(state.uploads, tenant, task)
    body = await decode_body(request, state.settings.max_body_bytes, (form,))
    try:
        assert form.model is not None  # decode refuses a form without one
        endpoint = model_endpoint(state, form.model, Whisper)
        _check_task(endpoint, form.model, task)
    except BaseException:
        await state.uploads.discard(tenant, body.files)  # refused before the submit (which discards its own)
        raise
    answer = functools.partial(_rendered, endpoint, form.response_format)
    return await submit(request, endpoint, body, answer, _as_form_field)


def _check_task(endpoint: Endpoint, model: str, task: str) -> None:
    """400 naming ``model`` for a translation by a model that only knows English."""
    if task == "translate" and multilingual(endpoint.name) is False:
        raise BadRequest(
            f"model {model!r} only transcribes English: it cannot translate (serve a multilingual "
            "Whisper model for translations)",
            field="model",
            code="translation_unsupported",
        )


def _rendered(endpoint: Endpoint, response_format: str, output: dict[str, Any]) -> Response:
    """The transcript as ``response_format``: JSON for ``json`` and ``verbose_json``, plain
    text for ``text``, ``srt`` and ``vtt``, as OpenAI answers."""
    if response_format == "json":
        return Response(openai_json(output), 200, media_type="application/json")
    rendering = endpoint.formats[response_format]
    media_type = "application/json" if response_format == "verbose_json" else "text/plain; charset=utf-8"
    return Response(rendering.render(output), 200, media_type=media_type)


def _as_form_field(exc: InvalidInput) -> InvalidInput:
    """``exc`` naming the form field the caller sent (``file``) rather than the Whisper
    input it became (``audio``). A request the model refused names it in its message
    (``audio: ...``, as the worker records it)."""
    field = exc.details.get("field") or exc.message.partition(":")[0]
    if field not in _WHISPER_INPUTS:
        return exc
    renamed = _FIELD_OF.get(field, field)
    message = exc.message.replace(field, renamed, 1)
    return InvalidInput(message, **{**exc.details, "field": renamed})


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInput(f"{name}: must be one of {', '.join(allowed)}, got {value!r}", field=name)
    return value


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise InvalidInput(f"{name}: must be a number, got {value!r}", field=name) from None
