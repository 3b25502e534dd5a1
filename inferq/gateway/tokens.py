"""Routes under ``/v1/tokens``: admins create, list and revoke tokens over HTTP.

The same operations as ``inferq token``, without access to the store. A new token is
in the creation answer only (the store keeps its hash); listings show ids, names and
state, never a secret or a hash. Revocation takes effect on the very next call, since
every call re-reads the store.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.domain.clock import isoformat
from inferq.errors import NotFound
from inferq.gateway.admin import require_admin
from inferq.gateway.bodies import decode_body
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.protocol.render import timestamp
from inferq.protocol.tokens import NewToken
from inferq.service.schema import validate_inputs

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.protocol.tokens import CreatedToken, Token, TokenBase, TokenList
    from inferq.tokens import TokenInfo


def _described(info: TokenInfo) -> TokenBase:
    return {"id": info.id, "name": info.name, "admin": info.admin, "created_at": timestamp(info.created_at)}


def token_doc(info: TokenInfo) -> Token:
    """A token as the API shows it: never the token or its hash."""
    return {**_described(info), "revoked_at": isoformat(info.revoked_at)}


async def create_token(request: Request) -> Response:
    require_admin(request, "creating tokens")
    state = state_of(request)
    body = await decode_body(request, state.settings.max_body_bytes)
    new = validate_inputs(NewToken, body.value)
    info, token = await state.backend.create_token(new.name, admin=new.admin)
    created: CreatedToken = {**_described(info), "token": token}
    return json_response(created, 201)


async def list_tokens(request: Request) -> Response:
    require_admin(request, "listing tokens")
    tokens = await state_of(request).backend.list_tokens()
    listing: TokenList = {"results": [token_doc(info) for info in tokens]}
    return json_response(listing)


async def revoke_token(request: Request) -> Response:
    """Idempotent: revoking a revoked token answers it as it is; an unknown id is 404."""
    require_admin(request, "revoking tokens")
    backend, token_id = state_of(request).backend, request.path_params["token_id"]
    await backend.revoke_token(token_id)
    info = next((info for info in await backend.list_tokens() if info.id == token_id), None)
    if info is None:
        raise NotFound(f"no token {token_id!r}", token_id=token_id)
    return json_response(token_doc(info))
