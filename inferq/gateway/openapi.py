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
#: One server-sent event: its name and its JSON ``data``.
_SSE_EVENT = {
    "type": "object",
    "required": ["event", "data"],
    "properties": {"event": {"type": "string"}, "data": {"type": "string"}, "id": {"type": "string"}},
}
_ID = [{"name": "response_id", "in": "path", "required": True, "schema": {"type": "string"}}]
_ASYNC_HEADERS = [
    {
        "name": "X-OctoAI-Async",
        "in": "header",
        "schema": {"type": "string", "enum": ["1", "true"]},
        "description": "Queue the request and answer 202 with a future.",
    },
    {
        "name": "Prefer",
        "in": "header",
        "schema": {"type": "string"},
        "description": "`respond-async` = X-OctoAI-Async",
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "schema": {"type": "string", "minLength": 1, "maxLength": 256},
        "description": "Same key and body → same future; another body → 409.",
    },
]


def _answers(ok: dict[str, Any], *statuses: int) -> dict[str, Any]:
    errors = {
        str(s): {"description": "error", "content": {"application/json": {"schema": _ERROR}}}
        for s in statuses
    }
    return {
        **ok,
        **errors,
        "401": {"description": "no or bad token", "content": {"application/json": {"schema": _ERROR}}},
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _endpoint_paths(endpoint: Endpoint) -> dict[str, Any]:
    schema = endpoint.inputs.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    example = endpoint.example
    request_body: dict[str, Any] = {"schema": schema}
    outputs = _json({"type": "object"}, "the outputs")
    if example is not None:
        request_body["example"] = example.inputs
        outputs["content"]["application/json"]["example"] = example.output
    predict = {
        "summary": f"Run {endpoint.name} (sync, or async with X-OctoAI-Async: 1)",
        "parameters": _ASYNC_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": request_body}},
        "responses": _answers(
            {"200": outputs, "202": _json({"$ref": "#/components/schemas/Accepted"}, "queued: a future")},
            400,
            404,
            409,
            413,
            415,
            422,
            429,
            502,
            503,
            504,
        ),
    }
    batch = {
        "summary": f"Queue up to 1,000 {endpoint.name} inputs in one call: 202 with a future each, in order",
        "parameters": _ASYNC_HEADERS[2:],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["inputs"],
                        "additionalProperties": False,
                        "properties": {
                            "inputs": {"type": "array", "minItems": 1, "maxItems": 1000, "items": schema}
                        },
                    }
                }
            },
        },
        "responses": _answers(
            {
                "202": _json(
                    {
                        "type": "object",
                        "properties": {
                            "results": {"type": "array", "items": {"$ref": "#/components/schemas/Accepted"}}
                        },
                    },
                    "queued: the futures",
                )
            },
            400,
            404,
            409,
            413,
            415,
            422,
            429,
            503,
        ),
    }
    health = {
        "summary": f"Is {endpoint.name} ready?",
        "responses": _answers({"200": _json({"type": "object"}, "ready")}, 404, 503),
    }
    paths: dict[str, Any] = {
        f"/{endpoint.name}/predict": {"post": predict},
        f"/{endpoint.name}/infer": {"post": predict},
        f"/{endpoint.name}/batch": {"post": batch},
        f"/{endpoint.name}/healthcheck": {"get": health},
    }
    return {"paths": paths, "defs": defs}


def _request_paths() -> dict[str, Any]:
    wait = {"name": "wait", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 60}}
    page = [
        {
            "name": "status",
            "in": "query",
            "schema": {"type": "string", "enum": ["pending", "running", "completed", "failed", "cancelled"]},
        },
        {"name": "endpoint", "in": "query", "schema": {"type": "string"}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "before", "in": "query", "schema": {"type": "string"}},
        {
            "name": "tenant",
            "in": "query",
            "schema": {"type": "string", "minLength": 1},
            "description": "Admin tokens only (403 otherwise): the requests of this token id alone.",
        },
    ]
    listing = {
        "type": "object",
        "properties": {"results": {"type": "array", "items": _STATUS}, "next": {"type": ["string", "null"]}},
    }
    deleted = {
        "type": "object",
        "properties": {"response_id": {"type": "string"}, "deleted": {"type": "boolean"}},
    }
    return {
        "/v1/requests": {
            "get": {
                "summary": "Your requests, newest first (every tenant's for an admin token)",
                "parameters": page,
                "responses": _answers({"200": _json(listing, "a page")}, 403, 422),
            }
        },
        "/v1/requests/{response_id}": {
            "get": {
                "summary": "A future's state; ?wait=S long-polls",
                "parameters": [*_ID, wait],
                "responses": _answers({"200": _json(_STATUS, "state")}, 404, 422),
            },
            "delete": {
                "summary": "Delete a finished request's inputs and outputs now (cancel a live one first)",
                "parameters": _ID,
                "responses": _answers({"200": _json(deleted, "deleted: it now reads as 404")}, 404, 409),
            },
        },
        "/v1/requests/{response_id}/response": {
            "get": {
                "summary": "The outputs",
                "parameters": _ID,
                "responses": _answers({"200": _json({"type": "object"}, "outputs")}, 404, 409, 422, 502),
            }
        },
        "/v1/requests/{response_id}/cancel": {
            "post": {
                "summary": "Cancel a pending or running request",
                "parameters": _ID,
                "responses": _answers({"200": _json(_STATUS, "cancelled")}, 404, 409),
            }
        },
        "/v1/requests/wait": {
            "post": {
                "summary": "The ends of up to 10,000 requests as server-sent events: "
                "done (a status) or missing (an error) for each as it ends, then end with the ids still going",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["response_ids"],
                                "additionalProperties": False,
                                "properties": {
                                    "response_ids": {
                                        "type": "array",
                                        "minItems": 1,
                                        "maxItems": 10000,
                                        "items": {"type": "string"},
                                    },
                                    "timeout": {
                                        "type": "number",
                                        "minimum": 0,
                                        "maximum": 300,
                                        "default": 60,
                                    },
                                    "include_output": {"type": "boolean", "default": False},
                                },
                            }
                        }
                    },
                },
                "responses": _answers(
                    {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                        }
                    },
                    400,
                    413,
                    415,
                    422,
                ),
            }
        },
        "/v1/requests/{response_id}/events": {
            "get": {
                "summary": "Its changes as server-sent events until it "
                "ends: queued, running, progress, then completed, failed or cancelled; each data is the state",
                "parameters": _ID,
                "responses": _answers(
                    {
                        "200": {
                            "description": "an event stream",
                            "content": {"text/event-stream": {"schema": _SSE_EVENT}},
                        }
                    },
                    404,
                ),
            }
        },
    }


def _webhook_paths() -> dict[str, Any]:
    """The webhook routes. The ``webhook`` query parameter of ``predict`` (see
    docs/webhooks.md) is left out of the document on purpose: a fuzzer would make the
    gateway POST to whatever addresses it makes up."""
    attempt = {
        "type": "object",
        "properties": {
            "at": {"type": "string"},
            "status_code": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": "number"},
        },
    }
    delivery = {
        "type": "object",
        "required": ["webhook_id", "event", "url", "attempts", "state", "next_attempt_at"],
        "properties": {
            "webhook_id": {"type": "string"},
            "event": {"type": "string", "enum": ["start", "completed"]},
            "url": {"type": "string"},
            "attempts": {"type": "array", "items": attempt},
            "state": {"type": "string", "enum": ["pending", "delivered", "failed"]},
            "next_attempt_at": {"type": ["string", "null"]},
        },
    }
    log = {"type": "object", "properties": {"results": {"type": "array", "items": delivery}}}
    key = {"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}
    return {
        "/v1/webhooks/secret": {
            "get": {
                "summary": "This token's key for verifying webhook signatures",
                "responses": _answers({"200": _json(key, "whsec_ + base64 of 32 bytes")}),
            }
        },
        "/v1/requests/{response_id}/webhooks": {
            "get": {
                "summary": "The request's webhook deliveries and attempts",
                "parameters": _ID,
                "responses": _answers({"200": _json(log, "the delivery log")}, 404),
            }
        },
        "/v1/requests/{response_id}/webhooks/redeliver": {
            "post": {
                "summary": "Send the latest webhook event again, with a new webhook-id",
                "parameters": _ID,
                "responses": _answers({"202": _json(delivery, "queued")}, 404, 409),
            }
        },
    }


def _info_paths() -> dict[str, Any]:
    count = {"type": "integer", "minimum": 0}
    entry = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "ready": {"type": "boolean"},
            "workers": count,
            "ready_workers": count,
            "pending": count,
            "running": count,
            "oldest_pending_age_s": {"type": ["number", "null"]},
        },
    }
    listing = {"type": "object", "properties": {"endpoints": {"type": "array", "items": entry}}}
    text = {
        "description": "Prometheus text format",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    }
    return {
        "/v1/endpoints": {
            "get": {
                "summary": "Each endpoint with its workers and queue",
                "responses": _answers({"200": _json(listing, "the endpoints")}, 503),
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (see docs/metrics.md); admin tokens only",
                "responses": _answers({"200": text}, 403),
            }
        },
    }


def _token_paths() -> dict[str, Any]:
    """``/v1/tokens``: admin tokens only, so every operation may answer 403."""
    info = {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "admin": {"type": "boolean"},
        "created_at": {"type": "string"},
    }
    token = {
        "type": "object",
        "required": [*info, "revoked_at"],
        "properties": {**info, "revoked_at": {"type": ["string", "null"]}},
    }
    created = {
        "type": "object",
        "required": [*info, "token"],
        "properties": {**info, "token": {"type": "string", "description": "shown only here"}},
    }
    new = {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "admin": {"type": "boolean", "default": False},
        },
    }
    listing = {"type": "object", "properties": {"results": {"type": "array", "items": token}}}
    token_id = [{"name": "token_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    return {
        "/v1/tokens": {
            "get": {
                "summary": "Every token, revoked ones included (never a secret)",
                "responses": _answers({"200": _json(listing, "the tokens")}, 403),
            },
            "post": {
                "summary": "Create a token; the answer is the only time it is shown",
                "requestBody": {"required": True, "content": {"application/json": {"schema": new}}},
                "responses": _answers({"201": _json(created, "created")}, 400, 403, 413, 415, 422),
            },
        },
        "/v1/tokens/{token_id}": {
            "delete": {
                "summary": "Revoke a token: its next call is 401 (idempotent)",
                "parameters": token_id,
                "responses": _answers({"200": _json(token, "revoked")}, 403, 404),
            }
        },
    }


_COMPONENTS = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "Accepted": {
        "type": "object",
        "required": ["response_id", "poll_url", "status", "created_at"],
        "properties": {
            k: {"type": "string"} for k in ("response_id", "poll_url", "status", "created_at", "expires_at")
        },
    },
    "RequestStatus": {
        "type": "object",
        "required": ["response_id", "endpoint", "status", "created_at", "expires_at"],
        "properties": {
            "response_id": {"type": "string"},
            "endpoint": {"type": "string"},
            "tenant": {"type": "string", "description": "to admin tokens only"},
            "status": {"type": "string"},
            "queue_position": {"type": "integer"},
            "progress": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
            "estimated_start_at": {"type": ["string", "null"]},
            "estimated_completed_at": {"type": ["string", "null"]},
            "error": {"type": "object"},
            "response_url": {"type": "string"},
        },
    },
}


def openapi_document(endpoints: dict[str, Endpoint]) -> dict[str, Any]:
    paths = {**_request_paths(), **_info_paths(), **_token_paths(), **_webhook_paths()}
    schemas = dict(_COMPONENTS)
    for endpoint in endpoints.values():
        built = _endpoint_paths(endpoint)
        paths.update(built["paths"])
        schemas.update(built["defs"])
    return {
        "openapi": "3.1.0",
        "info": {"title": "inferq", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_json(request: Request) -> Response:
    return json_response(request.app.state.openapi)


async def docs(request: Request) -> Response:
    """A plain page of every endpoint's inputs and, where its Service gives one, an example
    call and its outputs (served offline: no script from a CDN)."""
    sections = []
    for endpoint in request.app.state.endpoints.values():
        name = html.escape(endpoint.name)
        section = f"<h2>{name}</h2><p><code>POST /{name}/predict</code></p><h3>Inputs</h3>"
        section += f"<pre>{_pretty(endpoint.inputs.model_json_schema())}</pre>"
        if endpoint.example is not None:
            section += f"<h3>Example inputs</h3><pre>{_pretty(endpoint.example.inputs)}</pre>"
            section += f"<h3>Example outputs</h3><pre>{_pretty(endpoint.example.output)}</pre>"
        sections.append(section)
    body = "".join(sections)
    return HTMLResponse(
        f"<!doctype html><title>inferq API</title><h1>inferq endpoints</h1>{body}"
        "<p>Machine-readable: <a href='openapi.json'>/openapi.json</a></p>"
    )


def _pretty(value: Any) -> str:
    return html.escape(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
