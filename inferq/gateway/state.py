"""What the gateway's routes share, typed: :class:`GatewayState`, read through :func:`state_of`.

``create_app`` builds one per app and makes it the app's ``state``; routes never read
``app.state`` untyped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from inferq.errors import NotFound

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pydantic
    from starlette.requests import HTTPConnection

    from inferq.backends import Backend
    from inferq.gateway.counters import GatewayMetrics
    from inferq.gateway.estimates import Estimates
    from inferq.gateway.limits import Admission
    from inferq.gateway.positions import StreamPositions
    from inferq.gateway.uploads import Uploads
    from inferq.service.base import Example, Rendering, Service
    from inferq.settings import Settings


@dataclass(frozen=True, slots=True)
class Endpoint:
    """An endpoint as the gateway knows it: its name and input model, never its model runtime."""

    name: str
    target: str
    #: Its Service class: read for what it declares, never set up here.
    service: type[Service]
    inputs: type[pydantic.BaseModel]
    #: The inputs that are files (:func:`inferq.service.schema.file_inputs`).
    file_inputs: frozenset[str] = frozenset()
    example: Example | None = None
    #: Other renderings of its outputs, by ``?format=`` name.
    formats: Mapping[str, Rendering] = field(default_factory=dict)
    #: Its model's version (:meth:`~inferq.service.base.Service.version`).
    version: str = ""


@dataclass(frozen=True, slots=True)
class GatewayState:
    """One gateway app's settings, store, uploads, endpoints, limits, estimates, streamed
    queue positions, metrics and OpenAPI document."""

    settings: Settings
    backend: Backend
    uploads: Uploads
    endpoints: Mapping[str, Endpoint]
    admission: Admission
    estimates: Estimates
    positions: StreamPositions
    metrics: GatewayMetrics
    openapi: dict[str, Any]

    def endpoint(self, name: str) -> Endpoint:
        """The endpoint called ``name``; 404 naming it when this gateway does not serve it."""
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            raise NotFound(f"no endpoint {name!r}", endpoint=name)
        return endpoint


def state_of(conn: HTTPConnection) -> GatewayState:
    """The state of the app serving ``conn``."""
    state: GatewayState = conn.app.state
    return state
