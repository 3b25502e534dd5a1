"""The Python SDK: sync and async clients over one I/O-free core, futures, retries, waiting."""

from inferq.sdk.async_client import AsyncClient
from inferq.sdk.client import Client
from inferq.sdk.events import RequestEvent
from inferq.sdk.files import FileRef
from inferq.sdk.future import InferenceFuture
from inferq.sdk.retry import AsyncRetryTransport, RetryPolicy, RetryTransport
from inferq.sdk.waiting import as_completed

__all__ = [
    "AsyncClient",
    "AsyncRetryTransport",
    "Client",
    "FileRef",
    "InferenceFuture",
    "RequestEvent",
    "RetryPolicy",
    "RetryTransport",
    "as_completed",
]
