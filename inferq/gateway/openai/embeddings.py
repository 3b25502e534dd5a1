"""``POST /v1/embeddings``: OpenAI's embeddings API as a door to the embeddings endpoints.

The JSON body (``model``, ``input``, ``encoding_format``, ``dimensions``, ``user``) becomes
the endpoint's inputs and goes through the shared submit use-case; the answer is OpenAI's
list of ``embedding`` objects, or inferq's 202 with ``Prefer: respond-async`` (the result
then reads in OpenAI's shape from ``/v1/requests/{id}/response?format=openai``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from inferq.errors import BadRequest, InvalidInput
from inferq.gateway.bodies import Body, decode_body
from inferq.gateway.openai.door import admit, submit
from inferq.gateway.openai.models import model_endpoint
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.models.embeddings import DIMENSIONS, Embeddings, openai_list

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

ENCODING_FORMATS = ("float", "base64")
#: OpenAI's fields; ``user`` (an end-user id for OpenAI's abuse monitoring) is accepted and unused.
FIELDS = frozenset({"model", "input", "encoding_format", "dimensions", "user"})


async def embeddings(request: Request) -> Response:
    admit(request)
    state = state_of(request)
    fields = (await decode_body(request, state.settings.max_body_bytes)).value
    unknown = sorted(set(fields) - FIELDS)
    if unknown:
        raise InvalidInput(f"{unknown[0]}: not a parameter of this route", field=unknown[0])
    model = fields.get("model")
    if not isinstance(model, str):
        raise InvalidInput(
            "model: required (text-embedding-3-small, or an endpoint's name: see /v1/models)", field="model"
        )
    endpoint = model_endpoint(state, model, Embeddings)
    encoding = fields.get("encoding_format", "float")
    if encoding not in ENCODING_FORMATS:
        raise InvalidInput(
            f"encoding_format: must be float or base64, got {encoding!r}", field="encoding_format"
        )
    dimensions = fields.get("dimensions", DIMENSIONS)
    if dimensions != DIMENSIONS:
        raise BadRequest(
            f"dimensions: {model!r} gives {DIMENSIONS}-dimensional vectors and cannot shorten them, "
            f"got {dimensions!r}",
            field="dimensions",
            code="unsupported_dimensions",
        )
    _check_text(fields.get("input"))
    inputs = {"input": fields.get("input"), "normalize": True}  # OpenAI's vectors have length 1

    def answer(output: dict[str, Any]) -> Response:
        return json_response(openai_list(output, model, as_base64=encoding == "base64"))

    return await submit(request, endpoint, Body(orjson.dumps(inputs), inputs), answer)


def _check_text(value: Any) -> None:
    """OpenAI also takes token ids; this model is given text, and says so."""
    items = value if isinstance(value, list) else [value]
    if items and all(isinstance(item, int | list) for item in items):
        raise InvalidInput("input: token arrays are not taken here: send the text itself", field="input")
