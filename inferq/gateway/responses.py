"""JSON responses rendered with orjson, and the error renderers the app registers."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException
from starlette.responses import Response

from inferq.backends import StoreFull
from inferq.errors import APIError, ServiceUnavailable, Unauthorized
from inferq.gateway.auth import StoreUnavailable
from inferq.gateway.openai.errors import openai_error_body, speaks_openai
from inferq.gateway.state import state_of
from inferq.protocol.errors import error_body

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection, Request

    from inferq.domain.records import RequestRecord

log = logging.getLogger(__name__)


def json_response(content: Any, status_code: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status_code, headers, media_type="application/json")


def partial_output(record: RequestRecord, start: int, outputs: list[bytes]) -> bytes:
    """The partial output document of ``outputs`` (stored JSON, spliced in as is) from ``start``."""
    head = orjson.dumps({"response_id": record.response_id, "status": record.status, "start": start})
    return head[:-1] + b',"outputs":[' + b",".join(outputs) + b"]}"


def error_response(conn: HTTPConnection, exc: APIError) -> Response:
    return _error(conn, exc.status_code, exc.type, exc.message, exc.details, exc.headers)


def _error(
    conn: HTTPConnection,
    status: int,
    kind: str,
    message: str,
    details: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
) -> Response:
    """An error in inferq's shape, or in OpenAI's on the routes of OpenAI's API."""
    if speaks_openai(conn.url.path):
        return json_response(openai_error_body(status, kind, message, details), status, headers)
    return json_response(error_body(kind, message, dict(details)), status, headers)


async def on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, APIError)
    return error_response(request, exc)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return _error(request, exc.status_code, kind, message, {}, exc.headers)


async def on_backend_unavailable(request: Request, exc: Exception) -> Response:
    log.warning("backend unavailable: %s", exc)
    reason = "full" if isinstance(exc, StoreFull) else "unavailable"
    state_of(request).metrics.store_refusals.labels(reason).inc()
    return error_response(request, ServiceUnavailable(f"the store is unavailable: {exc}", retry_after=1))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, APIError("internal error"))


def on_auth_error(conn: HTTPConnection, exc: Exception) -> Response:
    if isinstance(exc, StoreUnavailable):
        return error_response(conn, ServiceUnavailable(f"the store is unavailable: {exc}", retry_after=1))
    unauthorized = Unauthorized(str(exc))
    return _error(conn, 401, unauthorized.type, unauthorized.message, {}, {"WWW-Authenticate": "Bearer"})
