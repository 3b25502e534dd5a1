"""The exceptions users of inferq see, on the server and in the SDK.

    InferqError
     ├── APIError                     an HTTP error answer; status_code and type are class data
     │    ├── BadRequest              400 invalid_json: the body could not be parsed
     │    ├── Unauthorized            401 unauthorized: no token, or a wrong or revoked one
     │    ├── Forbidden               403 forbidden: a user token on a route for admin tokens
     │    ├── NotFound                404 not_found: unknown endpoint or request (or another tenant's)
     │    │    └── Expired            404 expired: the request existed, its data passed retention
     │    ├── Conflict                409 conflict: not finished yet, or an idempotency key reused
     │    ├── PayloadTooLarge         413 payload_too_large
     │    ├── UnsupportedMediaType    415 unsupported_media_type
     │    ├── InvalidInput            422 invalid_input: names the field that was wrong
     │    ├── TooManyRequests         429 too_many_requests: carries retry_after
     │    │    └── DeadlineUnmeetable  429 deadline_unmeetable: the queue cannot start it by its Cancel-After
     │    ├── InferenceFailed         502 inference_failed: the model raised or its worker was lost
     │    ├── ServiceUnavailable      503 unavailable: no capacity, or the backend is down
     │    └── GatewayTimeout          504 timeout: a synchronous call outlived its wait
     ├── ServerUnreachable            no answer from the server (refused, reset, timed out) within the retries
 ├── RequestCancelled             a future that was cancelled has no result
     └── WaitTimeout                  a client-side wait ran out before the request ended

The gateway raises these and one handler renders them as
``{"error": {"type", "message", ...}}``; the SDK rebuilds the same class from that body
with :meth:`APIError.from_body`, so both sides share one vocabulary.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from inferq.protocol.errors import error_body

if TYPE_CHECKING:
    from collections.abc import Mapping

    from inferq.protocol.errors import ErrorBody

__all__ = [
    "APIError",
    "BadRequest",
    "Conflict",
    "DeadlineUnmeetable",
    "Expired",
    "Forbidden",
    "GatewayTimeout",
    "InferenceFailed",
    "InferqError",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RequestCancelled",
    "ServerUnreachable",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "WaitTimeout",
]


class InferqError(Exception):
    """Root of every inferq exception."""


class APIError(InferqError):
    """An error answer of the HTTP API."""

    status_code: ClassVar[int] = 500
    type: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> ErrorBody:
        """The JSON body the gateway sends for this error."""
        return error_body(self.type, self.message, self.details)

    @property
    def headers(self) -> dict[str, str]:
        """Extra response headers (``Retry-After`` for 429 and 503)."""
        retry_after = self.details.get("retry_after")
        return {"Retry-After": str(int(retry_after))} if retry_after is not None else {}

    @staticmethod
    def from_body(status_code: int, body: Any) -> APIError:
        """Rebuild the error class the server raised from its status and JSON body."""
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):  # not inferq's answer: a proxy's, or another server's
            error = {"message": str(body)[:500] or f"HTTP {status_code}", "foreign": True}
        kind = _BY_TYPE.get(str(error.get("type")))
        if kind is None or kind.status_code != status_code:
            kind = _BY_STATUS.get(status_code, APIError)
        details = {k: v for k, v in error.items() if k not in ("type", "message")}
        exc = kind(str(error.get("message", f"HTTP {status_code}")), **details)
        exc.http_status = status_code
        return exc

    @staticmethod
    def from_detail(error: Mapping[str, Any]) -> APIError:
        """Rebuild an error the server reported inside a 200 (one request of a bulk call),
        with the status its type answers alone."""
        kind = _BY_TYPE.get(str(error.get("type")), APIError)
        return APIError.from_body(kind.status_code, {"error": dict(error)})

    http_status: int | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class BadRequest(APIError):
    """The body could not be parsed (400)."""

    status_code = 400
    type = "invalid_json"


class Unauthorized(APIError):
    """No token, or a wrong or revoked one (401)."""

    status_code = 401
    type = "unauthorized"


class Forbidden(APIError):
    """A valid token that may not do this: the route is for admin tokens only (403)."""

    status_code = 403
    type = "forbidden"


class NotFound(APIError):
    """No such endpoint or request, or it belongs to another tenant (404)."""

    status_code = 404
    type = "not_found"


class Expired(NotFound):
    """The request existed but passed retention: its inputs and outputs are deleted (404)."""

    type = "expired"


class Conflict(APIError):
    """The request is not finished, or an idempotency key came with another body (409)."""

    status_code = 409
    type = "conflict"


class PayloadTooLarge(APIError):
    """The body is larger than the gateway accepts (413)."""

    status_code = 413
    type = "payload_too_large"


class UnsupportedMediaType(APIError):
    """The body is not JSON (415)."""

    status_code = 415
    type = "unsupported_media_type"


class InvalidInput(APIError):
    """An input was missing, of the wrong type or out of range; ``field`` names it (422).

    A Service raises it from ``infer`` for inputs it can only judge by trying
    (audio that does not decode), and the request fails with it.
    """

    status_code = 422
    type = "invalid_input"


class TooManyRequests(APIError):
    """A queue or rate limit is full; ``retry_after`` says when to come back (429)."""

    status_code = 429
    type = "too_many_requests"


class DeadlineUnmeetable(TooManyRequests):
    """The endpoint's estimate says the request could not end by its deadline
    (``Cancel-After``), so it was not accepted; ``estimated_start_at`` and
    ``estimated_completed_at`` say when it would have run (429)."""

    type = "deadline_unmeetable"


class InferenceFailed(APIError):
    """The model raised, or its worker was lost too many times (502)."""

    status_code = 502
    type = "inference_failed"


class ServiceUnavailable(APIError):
    """No capacity, or the backend cannot be reached (503)."""

    status_code = 503
    type = "unavailable"


class GatewayTimeout(APIError):
    """A synchronous call waited longer than the gateway holds one (504).

    The request goes on: ``response_id`` in the details lets the caller collect it.
    """

    status_code = 504
    type = "timeout"


def request_failure(error_type: str | None, message: str | None, response_id: str) -> APIError:
    """The error a failed request stands for, on the server and in the SDK alike:
    :class:`InvalidInput` when its service refused the inputs, else :class:`InferenceFailed`."""
    kind = InvalidInput if error_type == InvalidInput.type else InferenceFailed
    return kind(message or "inference failed", response_id=response_id)


class ServerUnreachable(InferqError, ConnectionError):
    """The server could not be reached, or stopped answering, for longer than the SDK retries
    (a minute by default): it is down, or the URL is wrong. The transport error is the cause."""


class RequestCancelled(InferqError):
    """The request was cancelled, so it will never have a result."""


class WaitTimeout(InferqError, TimeoutError):
    """A client-side wait ended before the request did; the request goes on."""


_API_ERRORS: list[type[APIError]] = [
    BadRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    Expired,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    InvalidInput,
    TooManyRequests,
    DeadlineUnmeetable,
    InferenceFailed,
    ServiceUnavailable,
    GatewayTimeout,
]
_BY_TYPE = {kind.type: kind for kind in _API_ERRORS}
_BY_STATUS = {kind.status_code: kind for kind in reversed(_API_ERRORS)}
