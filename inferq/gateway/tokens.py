"""Routes under ``/v1/tokens``: admins create, list and revoke tokens over HTTP.

The same operations as ``inferq token``, without access to the store. A new token is
in the creation answer only (the store keeps its hash); listings show ids, names and
state, never a secret or a hash. Revocation takes effect on the very next call, since
every call re-reads the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pydantic

from inferq.domain.clock import isoformat
from inferq.errors import NotFound
from inferq.gateway.admin import require_admin
from inferq.gateway.body import read_json_object
from inferq.gateway.responses import json_response
from inferq.service.schema import validate_inputs

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.tokens import TokenInfo

#: Longest token name: a label for people, not a place to store data.
MAX_NAME = 200


class NewToken(pydantic.BaseModel):
    """The body of ``POST /v1/tokens``; strict, so ``"admin": "yes"`` is refused, not read as true."""

    model_config = pydantic.ConfigDict(extra="forbid", strict=True)

    name: str = pydantic.Field(min_length=1, max_length=MAX_NAME)
    admin: bool = False


def token_doc(info: TokenInfo) -> dict[str, Any]:
    """A token as the API shows it: never the token or its hash."""
    return {
        "id": info.id,
        "name": info.name,
        "admin": info.admin,
        "created_at": isoformat(info.created_at),
        "revoked_at": isoformat(info.revoked_at),
    }


async def create_token(request: Request) -> Response:
    require_admin(request, "creating tokens")
    _, body = await read_json_object(request, request.app.state.settings.max_body_bytes)
    new = validate_inputs(NewToken, body)
    info, token = await request.app.state.backend.create_token(new.name, admin=new.admin)
    doc = token_doc(info)
    del doc["revoked_at"]
    return json_response({**doc, "token": token}, 201)


async def list_tokens(request: Request) -> Response:
    require_admin(request, "listing tokens")
    tokens = await request.app.state.backend.list_tokens()
    return json_response({"results": [token_doc(info) for info in tokens]})


async def revoke_token(request: Request) -> Response:
    """Idempotent: revoking a revoked token answers it as it is; an unknown id is 404."""
    require_admin(request, "revoking tokens")
    backend, token_id = request.app.state.backend, request.path_params["token_id"]
    await backend.revoke_token(token_id)
    info = next((info for info in await backend.list_tokens() if info.id == token_id), None)
    if info is None:
        raise NotFound(f"no token {token_id!r}", token_id=token_id)
    return json_response(token_doc(info))
