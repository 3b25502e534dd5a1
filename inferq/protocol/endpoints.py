"""The documents of ``GET /v1/endpoints``, ``GET /{endpoint}/healthcheck`` and ``GET /healthz``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field
from typing_extensions import TypedDict

from inferq.protocol.schema import documented

Count = Annotated[int, Field(ge=0)]


@documented
class EndpointInfo(TypedDict):
    """An endpoint with its workers and queue, as the store has them now."""

    name: str
    ready: bool
    """A worker has its model loaded: the healthcheck answers 200."""
    workers: Count
    """Workers with a live heartbeat, loading their model or ready."""
    ready_workers: Count
    pending: Count
    running: Count
    oldest_pending_age_s: float | None
    """Seconds the oldest pending request has waited."""


@documented
class EndpointList(TypedDict):
    endpoints: list[EndpointInfo]


@documented
class Ready(TypedDict):
    """The healthcheck of an endpoint that can serve."""

    status: Literal["ready"]
    endpoint: str


@documented
class Alive(TypedDict):
    """The gateway's liveness."""

    status: Literal["ok"]
