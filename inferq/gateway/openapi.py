"""The OpenAPI document of this gateway, generated: the answers' schemas from the wire types
of :mod:`inferq.protocol`, each endpoint's inputs from its Service signature, the routes
from :mod:`inferq.gateway.openapi_paths`. Built once per app, served at ``/openapi.json``."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import HTMLResponse, Response

from inferq._version import __version__
from inferq.gateway import openapi_inputs as input_paths
from inferq.gateway import openapi_paths as paths
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.protocol.endpoints import Alive, EndpointList, Ready
from inferq.protocol.errors import ErrorBody
from inferq.protocol.files import FileObject, FilePage
from inferq.protocol.requests import (
    Accepted,
    AcceptedBatch,
    Deleted,
    PartialOutput,
    RequestPage,
    RequestStatus,
    RetriedPage,
    RetryRequest,
)
from inferq.protocol.schema import REF_TEMPLATE, components
from inferq.protocol.streams import WAIT_EVENTS, WaitRequest
from inferq.protocol.tokens import CreatedToken, NewToken, Token, TokenList
from inferq.protocol.webhooks import EVENT_TYPES, Delivery, DeliveryLog, SigningKey, WebhookEvent

if TYPE_CHECKING:
    from collections.abc import Mapping

    from starlette.requests import Request

    from inferq.gateway.state import Endpoint

#: Every wire type the document refers to; their schemas, and those they refer to, are its components.
WIRE_TYPES: tuple[type, ...] = (
    Accepted,
    AcceptedBatch,
    Alive,
    CreatedToken,
    Deleted,
    Delivery,
    DeliveryLog,
    EndpointList,
    ErrorBody,
    FileObject,
    FilePage,
    NewToken,
    PartialOutput,
    Ready,
    RequestPage,
    RequestStatus,
    RetriedPage,
    RetryRequest,
    SigningKey,
    Token,
    TokenList,
    WaitRequest,
    WebhookEvent,
    *WAIT_EVENTS.values(),
)


def openapi_document(endpoints: Mapping[str, Endpoint]) -> dict[str, Any]:
    document_paths = {
        **paths.service_paths(),
        **paths.request_paths(),
        **paths.token_paths(),
        **input_paths.file_paths(),
        **paths.webhook_paths(),
    }
    schemas = components(WIRE_TYPES)
    for endpoint in endpoints.values():
        inputs = endpoint.inputs.model_json_schema(ref_template=REF_TEMPLATE)
        schemas.update(inputs.pop("$defs", {}))
        document_paths.update(input_paths.endpoint_paths(endpoint, inputs))
    return {
        "openapi": "3.1.0",
        "info": {"title": "inferq", "version": __version__},
        "paths": document_paths,
        "webhooks": paths.webhook_events(sorted(EVENT_TYPES.values())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


async def openapi_json(request: Request) -> Response:
    return json_response(state_of(request).openapi)


async def docs(request: Request) -> Response:
    """A plain page of every endpoint's inputs and, where its Service gives one, an example
    call and its outputs (served offline: no script from a CDN)."""
    sections = []
    for endpoint in state_of(request).endpoints.values():
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
