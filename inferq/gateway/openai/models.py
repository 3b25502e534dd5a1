"""``GET /v1/models`` and ``/v1/models/{model}``: what ``model`` may name on OpenAI's routes.

Each endpoint an OpenAI route serves is a model under its own name, and OpenAI's own names
for the kind (``whisper-1``; ``text-embedding-3-small``) are its default endpoint: the one
named as the built-in is, else the first.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from inferq.errors import NotFound
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.models.embeddings import MODEL_NAME, Embeddings
from inferq.models.whisper import Whisper

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.gateway.state import Endpoint, GatewayState
    from inferq.service.base import Service

#: Each kind of model OpenAI's routes serve: the built-in endpoint's name, and the names
#: OpenAI's clients send for its default.
KINDS: dict[type[Service], tuple[str, tuple[str, ...]]] = {
    Whisper: ("whisper", ("whisper-1",)),
    Embeddings: ("embeddings", ("text-embedding-3-small", MODEL_NAME)),
}
#: ``created`` of every model: when this gateway started serving them.
_STARTED = int(time.time())


def served_models(state: GatewayState, kind: type[Service]) -> dict[str, Endpoint]:
    """Model name → endpoint of ``kind``: OpenAI's names for the default, and each by its name."""
    endpoints = {name: e for name, e in state.endpoints.items() if issubclass(e.service, kind)}
    if not endpoints:
        return {}
    builtin, aliases = KINDS[kind]
    default = endpoints.get(builtin) or next(iter(endpoints.values()))
    return {**dict.fromkeys(aliases, default), **endpoints}


def model_endpoint(state: GatewayState, model: str, kind: type[Service]) -> Endpoint:
    """The endpoint of ``kind`` that ``model`` names; 404 ``model_not_found`` naming those there are."""
    models = served_models(state, kind)
    endpoint = models.get(model)
    if endpoint is None:
        known = ", ".join(models) or "none: this server runs no endpoint of the kind"
        raise NotFound(
            f"The model {model!r} does not exist on this server (models here for this route: {known})",
            field="model",
            code="model_not_found",
        )
    return endpoint


def _model(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": _STARTED, "owned_by": "inferq"}


def _all(state: GatewayState) -> list[str]:
    return [name for kind in KINDS for name in served_models(state, kind)]


async def list_models(request: Request) -> Response:
    return json_response({"object": "list", "data": [_model(name) for name in _all(state_of(request))]})


async def get_model(request: Request) -> Response:
    name = request.path_params["model"]
    if name not in _all(state_of(request)):
        raise NotFound(
            f"The model {name!r} does not exist on this server", field="model", code="model_not_found"
        )
    return json_response(_model(name))
