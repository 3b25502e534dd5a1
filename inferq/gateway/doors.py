"""What every submit door reads from HTTP and how it answers a queued request.

A door (``/predict``, ``/batch``, the routes to come) names its endpoint in the path and
may ask for an asynchronous answer, an ``Idempotency-Key`` and the options of
:mod:`inferq.gateway.request_options`; these are read here, once,
and its 202 is built here. What it does with them is :mod:`inferq.gateway.submit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferq.errors import InvalidInput
from inferq.gateway import webhooks
from inferq.gateway.request_options import DEFAULT, Scheduling, prefers, scheduling_of
from inferq.gateway.responses import json_response
from inferq.gateway.state import state_of
from inferq.gateway.submit import Submit, SubmitOptions
from inferq.gateway.urls import poll_url
from inferq.protocol.limits import MAX_IDEMPOTENCY_KEY
from inferq.protocol.render import accepted

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from inferq.domain.records import RequestRecord
    from inferq.protocol.requests import Accepted


def submit_for(request: Request) -> Submit:
    """The use-case for the caller and the endpoint the path names (404 if unknown)."""
    state = state_of(request)
    return Submit(state, request.user.id, state.endpoint(request.path_params["endpoint"]))


def wants_async(request: Request) -> bool:
    """``X-OctoAI-Async: 1`` (OctoAI's header) or ``Prefer: respond-async`` (RFC 7240)."""
    if request.headers.get("x-octoai-async", "").strip() in ("1", "true"):
        return True
    return prefers(request, "respond-async")


def idempotency_key(request: Request) -> str | None:
    key = request.headers.get("idempotency-key")
    if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} characters", field="Idempotency-Key"
        )
    return key


def options_of(request: Request, asynchronous: bool) -> SubmitOptions:
    """The key, webhook and scheduling a submit asked for; 422 naming the header or parameter
    that is wrong."""
    webhook, events = webhooks.submit_options(request, asynchronous)
    return SubmitOptions(idempotency_key(request), webhook, events, scheduling(request))


def scheduling(request: Request, default: Scheduling = DEFAULT) -> Scheduling:
    """The scheduling options of the request's headers (``default``'s priority and
    retention where it gives none)."""
    settings = state_of(request).settings
    return scheduling_of(request, settings.max_retention_s or settings.retention_s, default)


def accepted_document(request: Request, record: RequestRecord) -> Accepted:
    return accepted(record, poll_url(request, record.response_id))


def accepted_response(request: Request, record: RequestRecord) -> Response:
    """202 with the future, ``Location`` pointing at it."""
    body = accepted_document(request, record)
    return json_response(body, 202, {"Location": body["poll_url"]})
