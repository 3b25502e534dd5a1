"""The error document: every error answer is ``{"error": {"type", "message", ...}}``.

:class:`inferq.errors.APIError` builds it on the server and rebuilds the exception from it
in the SDK; the details besides ``type`` and ``message`` depend on the error.
"""

from __future__ import annotations

from typing import Any, NotRequired, cast

from typing_extensions import TypedDict

from inferq.protocol.schema import documented


@documented
class Problem(TypedDict):
    """One wrong input."""

    field: str
    message: str


@documented
class ErrorDetail(TypedDict):
    """What went wrong: ``type`` names the kind (``invalid_input``, ``not_found``, ...), so
    a client can decide without reading ``message``, which is for people."""

    type: str
    message: str
    field: NotRequired[str]
    """The input, parameter or header that was wrong (422)."""
    problems: NotRequired[list[Problem]]
    """Every wrong input, when there were several (422)."""
    limit: NotRequired[int]
    """The limit that was passed (413, 429)."""
    retry_after: NotRequired[float]
    """Seconds before trying again, as the ``Retry-After`` header says (429, 503)."""
    response_id: NotRequired[str]
    """The request concerned (502, 504: a synchronous call's request goes on)."""
    poll_url: NotRequired[str]
    """Where to poll the request a timed-out synchronous call queued (504)."""
    status: NotRequired[str]
    """The request's status, when that is why (409)."""
    endpoint: NotRequired[str]
    """The endpoint concerned (404)."""
    setup_error: NotRequired[str]
    """Why the endpoint's model could not load (503)."""
    token_id: NotRequired[str]
    """The token concerned (404)."""
    estimated_start_at: NotRequired[str]
    """When a request its deadline could not be met for would have started (429)."""
    estimated_completed_at: NotRequired[str]
    """When it would have ended (429)."""


@documented
class ErrorBody(TypedDict):
    """An error answer."""

    error: ErrorDetail


def error_body(kind: str, message: str, details: dict[str, Any]) -> ErrorBody:
    """The error document of type ``kind``; ``details`` as the error names them."""
    return {"error": cast("ErrorDetail", {"type": kind, "message": message, **details})}
