"""``GET /v1/models`` and ``/v1/models/{model}``: what ``model`` may name on OpenAI's routes.

Each endpoint an OpenAI route serves is a model under its own name; ``whisper-1``, the
name OpenAI's clients send, is the default Whisper endpoint (the one called ``whisper``,
else the first).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from inferq.errors import NotFound
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.models.whisper import Whisper

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.gateway.state import Endpoint, GatewayState

#: The name OpenAI's clients give Whisper.
WHISPER_ALIAS = "whisper-1"
#: ``created`` of every model: when this gateway started serving them.
_STARTED = int(time.time())


def speech_models(state: GatewayState) -> dict[str, Endpoint]:
    """Model name → Whisper endpoint: each by its name, and the default as ``whisper-1``."""
    whispers = {name: e for name, e in state.endpoints.items() if issubclass(e.service, Whisper)}
    if not whispers:
        return {}
    default = whispers.get("whisper") or next(iter(whispers.values()))
    return {WHISPER_ALIAS: default, **whispers}


def model_endpoint(state: GatewayState, model: str) -> Endpoint:
    """The endpoint ``model`` names on the speech routes; 404 ``model_not_found`` naming the
    models there are."""
    models = speech_models(state)
    endpoint = models.get(model)
    if endpoint is None:
        known = ", ".join(models) or "none: this server runs no Whisper endpoint"
        raise NotFound(
            f"The model {model!r} does not exist on this server (speech models: {known})",
            field="model",
            code="model_not_found",
        )
    return endpoint


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _STARTED, "owned_by": "inferq"}


async def list_models(request: Request) -> Response:
    names = speech_models(state_of(request))
    return json_response({"object": "list", "data": [_model(name) for name in names]})


async def get_model(request: Request) -> Response:
    name = request.path_params["model"]
    model_endpoint(state_of(request), name)
    return json_response(_model(name))
