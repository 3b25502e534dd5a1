"""The OpenAPI document of this gateway, with each endpoint's inputs from its Service signature."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import HTMLResponse, Response

from inferq._version import __version__
from inferq.gateway.responses import json_response

if TYPE_CHECKING:
    from starlette.requests import Request

    from inferq.gateway.app import Endpoint

_ERROR = {"$ref": "#/components/schemas/Error"}
_STATUS = {"$ref": "#/components/schemas/RequestStatus"}
_ID = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_ASYNC_HEADERS = [
    {"name": "X-OctoAI-Async", "in": "header", "schema": {"type": "string", "enum": ["1", "true"]},
     "description": "Queue the request and answer 202 with a future."},
    {"name": "Prefer", "in": "header", "schema": {"type": "string"}, "description": "`respond-async` = X-OctoAI-Async"},
    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "minLength": 1, "maxLength": 256},
     "description": "Same key and body → same future; another body → 409."},
]  # fmt: skip


def _answers(ok: dict[str, Any], *statuses: int) -> dict[str, Any]:
    errors = {str(s): {"description": "error", "content": {"application/json": {"schema": _ERROR}}} for s in statuses}
    return {**ok, **errors, "401": {"description": "no or bad token", "content": {"application/json": {"schema": _ERROR}}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _endpoint_paths(endpoint: Endpoint) -> dict[str, Any]:
    schema = endpoint.inputs.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    predict = {
        "summary": f"Run {endpoint.name} (sync, or async with X-OctoAI-Async: 1)",
        "parameters": _ASYNC_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
        "responses": _answers(
            {"200": _json({"type": "object"}, "the outputs"),
             "202": _json({"$ref": "#/components/schemas/Accepted"}, "queued: a future")},
            400, 404, 409, 413, 415, 422, 429, 502, 503, 504,
        ),
    }  # fmt: skip
    health = {"summary": f"Is {endpoint.name} ready?", "responses": _answers({"200": _json({"type": "object"}, "ready")}, 404, 503)}
    paths: dict[str, Any] = {
        f"/{endpoint.name}/predict": {"post": predict},
        f"/{endpoint.name}/infer": {"post": predict},
        f"/{endpoint.name}/healthcheck": {"get": health},
    }
    return {"paths": paths, "defs": defs}


def _request_paths() -> dict[str, Any]:
    wait = {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 60}}
    page = [
        {"name": "status", "in": "query", "schema": {"type": "string",
         "enum": ["pending", "running", "completed", "failed", "cancelled"]}},
        {"name": "endpoint", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "before", "in": "query", "schema": {"type": "string"}},
    ]  # fmt: skip
    listing = {"type": "object", "properties": {"results": {"type": "array", "items": _STATUS},
               "next": {"type": ["string", "null"]}}}  # fmt: skip
    deleted = {"type": "object", "properties": {"response_id": {"type": "string"}, "deleted": {"type": "boolean"}}}
    return {
        "/v1/requests": {"get": {"summary": "Your requests, newest first", "parameters": page,
                                 "responses": _answers({"200": _json(listing, "a page")}, 422)}},
        "/v1/requests/{response_id}": {"get": {"summary": "A future's state; ?wait=S long-polls",
            "parameters": [*_ID, wait], "responses": _answers({"200": _json(_STATUS, "state")}, 404, 422)},
            "delete": {"summary": "Delete a finished request's inputs and outputs now (cancel a live one first)",
            "parameters": _ID, "responses": _answers({"200": _json(deleted, "deleted: it now reads as 404")},
                                                     404, 409)}},
        "/v1/requests/{response_id}/response": {"get": {"summary": "The outputs", "parameters": _ID,
            "responses": _answers({"200": _json({"type": "object"}, "outputs")}, 404, 409, 422, 502)}},
        "/v1/requests/{response_id}/cancel": {"post": {"summary": "Cancel a pending or running request",
            "parameters": _ID, "responses": _answers({"200": _json(_STATUS, "cancelled")}, 404, 409)}},
    }  # fmt: skip


def _info_paths() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    entry = {"type": "object", "properties": {
        "name": {"type": "string"}, "ready": {"type": "boolean"}, "workers": count, "ready_workers": count,
        "pending": count, "running": count, "oldest_pending_age_s": {"type": ["number", "null"]}}}
    listing = {"type": "object", "properties": {"endpoints": {"type": "array", "items": entry}}}
    text = {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}
    return {
        "/v1/endpoints": {"get": {"summary": "Each endpoint with its workers and queue",
                                  "responses": _answers({"200": _json(listing, "the endpoints")}, 503)}},
        "/metrics": {"get": {"summary": "Prometheus metrics (see docs/metrics.md)",
                             "responses": _answers({"200": text})}},
    }  # fmt: skip


_COMPONENTS = {
    "Error": {"type": "object", "required": ["error"], "properties": {"error": {
        "type": "object", "required": ["type", "message"],
        "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}},
    "Accepted": {"type": "object", "required": ["response_id", "poll_url", "status", "created_at"],
                 "properties": {k: {"type": "string"} for k in
                                ("response_id", "poll_url", "status", "created_at", "expires_at")}},
    "RequestStatus": {"type": "object", "required": ["response_id", "endpoint", "status", "created_at", "expires_at"],
                      "properties": {"response_id": {"type": "string"}, "endpoint": {"type": "string"},
                                     "status": {"type": "string"}, "queue_position": {"type": "integer"},
                                     "error": {"type": "object"}, "response_url": {"type": "string"}}},
}  # fmt: skip


def openapi_document(endpoints: dict[str, Endpoint]) -> dict[str, Any]:
    paths = {**_request_paths(), **_info_paths()}
    schemas = dict(_COMPONENTS)
    for endpoint in endpoints.values():
        built = _endpoint_paths(endpoint)
        paths.update(built["paths"])
        schemas.update(built["defs"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "inferq", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
    }


async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


async def docs(request: Request) -> Response:
    """A plain page of every endpoint's inputs (served offline: no script from a CDN)."""
    sections = []
    for endpoint in request.app.state.endpoints.values():
        schema = orjson.dumps(endpoint.inputs.model_json_schema(), option=orjson.OPT_INDENT_2).decode()
        sections.append(
            f"<h2>{html.escape(endpoint.name)}</h2><p><code>POST /{html.escape(endpoint.name)}/predict</code>"
            f"</p><pre>{html.escape(schema)}</pre>"
        )
    body = "".join(sections)
    return HTMLResponse(
        f"<!doctype html><title>inferq API</title><h1>inferq endpoints</h1>{body}"
        "<p>Machine-readable: <a href='openapi.json'>/openapi.json</a></p>"
    )
