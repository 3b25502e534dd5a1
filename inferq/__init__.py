"""inferq's Python SDK: submit inferences, get futures at once, collect results when ready."""

from inferq._version import __version__
from inferq.errors import (
    APIError,
    BadRequest,
    Conflict,
    Expired,
    Forbidden,
    GatewayTimeout,
    InferenceFailed,
    InferqError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    RequestCancelled,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    WaitTimeout,
)
from inferq.sdk import AsyncClient, Client, InferenceFuture, RequestEvent, as_completed

__all__ = [
    "APIError",
    "AsyncClient",
    "BadRequest",
    "Client",
    "Conflict",
    "Expired",
    "Forbidden",
    "GatewayTimeout",
    "InferenceFailed",
    "InferenceFuture",
    "InferqError",
    "InvalidInput",
    "NotFound",
    "PayloadTooLarge",
    "RequestCancelled",
    "RequestEvent",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
    "WaitTimeout",
    "__version__",
    "as_completed",
]
