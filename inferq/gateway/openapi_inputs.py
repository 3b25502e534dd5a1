"""The OpenAPI paths that take inputs: each endpoint's ``predict`` and ``batch`` (as JSON or
multipart) and ``healthcheck``, and ``/v1/files``; built with the helpers of
:mod:`inferq.gateway.openapi_paths`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from inferq.gateway.openapi_paths import (
    ASYNC_HEADERS,
    BODY_ERRORS,
    KEY_HEADER,
    SCHEDULING_HEADERS,
    json_answer,
    json_body,
    operation,
)
from inferq.protocol.endpoints import Ready
from inferq.protocol.files import FileObject, FilePage
from inferq.protocol.limits import MAX_BATCH_INPUTS, MAX_PAGE
from inferq.protocol.requests import Accepted, AcceptedBatch
from inferq.protocol.schema import ref

if TYPE_CHECKING:
    from inferq.gateway.state import Endpoint

_BINARY = {"type": "string", "format": "binary"}


def form_body(endpoint: Endpoint) -> dict[str, Any]:
    """A submit as ``multipart/form-data``: a part per file input, the other inputs as form
    fields or as one ``json`` part."""
    files = {name: _BINARY for name in sorted(endpoint.file_inputs)}
    json_part = {"type": "string", "contentMediaType": "application/json", "description": "the other inputs"}
    schema = {
        "type": "object",
        "properties": {**files, "json": json_part},
        "additionalProperties": {"type": "string"},
    }
    return {"schema": schema, "encoding": {"json": {"contentType": "application/json"}}}


def endpoint_paths(endpoint: Endpoint, inputs: dict[str, Any]) -> dict[str, Any]:
    """The routes of one endpoint, its ``inputs`` schema in their bodies."""
    name = endpoint.name
    outputs = json_answer({"type": "object"}, "the outputs")
    request_body = json_body(inputs)
    request_body["content"]["multipart/form-data"] = form_body(endpoint)
    if endpoint.example is not None:
        request_body["content"]["application/json"]["example"] = endpoint.example.inputs
        outputs["content"]["application/json"]["example"] = endpoint.example.output
    predict = operation(
        f"Run {name} (sync, or async with X-OctoAI-Async: 1)",
        {"200": outputs, "202": json_answer(ref(Accepted), "queued: a future")},
        *BODY_ERRORS,
        403,
        404,
        409,
        429,
        502,
        503,
        504,
        parameters=[*ASYNC_HEADERS, KEY_HEADER, *SCHEDULING_HEADERS],
        requestBody=request_body,
    )
    batch_body = {
        "type": "object",
        "required": ["inputs"],
        "additionalProperties": False,
        "properties": {
            "inputs": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH_INPUTS, "items": inputs}
        },
    }
    batch_request = json_body(batch_body)
    batch_request["content"]["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "required": ["json"],
            "properties": {"json": {"type": "string", "contentMediaType": "application/json"}},
            "additionalProperties": _BINARY,
            "description": 'a json part {"inputs": [...]} and each file as a part named inputs[i].NAME',
        },
        "encoding": {"json": {"contentType": "application/json"}},
    }
    batch = operation(
        f"Queue up to {MAX_BATCH_INPUTS:,} {name} inputs in one call: 202 with a future each, in order",
        {"202": json_answer(ref(AcceptedBatch), "queued: the futures")},
        *BODY_ERRORS,
        403,
        404,
        409,
        429,
        503,
        parameters=[KEY_HEADER, *SCHEDULING_HEADERS],
        requestBody=batch_request,
    )
    health = operation(f"Is {name} ready?", {"200": json_answer(ref(Ready), "ready")}, 404, 503)
    return {
        f"/{name}/predict": {"post": predict},
        f"/{name}/infer": {"post": predict},
        f"/{name}/batch": {"post": batch},
        f"/{name}/healthcheck": {"get": health},
    }


def file_paths() -> dict[str, Any]:
    """``/v1/files``: the caller's uploads, referred to from inputs as ``inferq://files/<id>``."""
    file_id = [{"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}]
    upload = {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": _BINARY}}
            },
            "application/octet-stream": {"schema": _BINARY},
        },
    }
    page = [
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
        {"name": "before", "in": "query", "schema": {"type": "string"}},
    ]
    content = {"description": "the bytes, as the file's media type", "content": {"*/*": {"schema": _BINARY}}}
    return {
        "/v1/files": {
            "get": operation(
                "The caller's files, newest first",
                {"200": json_answer(ref(FilePage), "a page")},
                404,
                422,
                parameters=page,
            ),
            "post": operation(
                "Upload a file (streamed to the blob store); any body media type is the file's own",
                {"201": json_answer(ref(FileObject), "stored")},
                400,
                413,
                422,
                429,
                503,
                parameters=[{"name": "filename", "in": "query", "schema": {"type": "string"}}],
                requestBody=upload,
            ),
        },
        "/v1/files/{file_id}": {
            "get": operation(
                "A file's description",
                {"200": json_answer(ref(FileObject), "the file")},
                404,
                parameters=file_id,
            ),
            "delete": operation(
                "Delete a file and its bytes now",
                {"200": json_answer(ref(FileObject), "deleted")},
                404,
                parameters=file_id,
            ),
        },
        "/v1/files/{file_id}/content": {
            "get": operation("A file's bytes", {"200": content}, 404, 503, parameters=file_id)
        },
    }
