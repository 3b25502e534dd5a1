"""JSON responses rendered with orjson, and the error renderers the app registers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response

from inferq.errors import APIError, ServiceUnavailable, Unauthorized
from inferq.gateway.auth import StoreUnavailable
from inferq.protocol.errors import error_body

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

log = logging.getLogger(__name__)


def json_response(content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code, headers, media_type="application/json")


def error_response(exc: APIError) -> Response:
    return json_response(exc.to_body(), exc.status_code, exc.headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    body = error_body(kind, f"{request.method} {request.url.path}: {exc.detail}", {})
    return json_response(body, exc.status_code, exc.headers)


async def on_backend_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("backend unavailable: %s", exc)
    return error_response(ServiceUnavailable(f"the store is unavailable: {exc}", retry_after=1))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(APIError("internal error"))


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, StoreUnavailable):
        return error_response(ServiceUnavailable(f"the store is unavailable: {exc}", retry_after=1))
    return json_response(Unauthorized(str(exc)).to_body(), 401, {"WWW-Authenticate": "Bearer"})
