"""Store + queue behind one interface; ``open_backend`` picks the implementation by URL."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from inferq.backends.backend import Backend
from inferq.backends.contracts import BackendUnavailable, EndpointStats, StoreFull, WorkerInfo

if TYPE_CHECKING:
    from inferq.policy import Policy

__all__ = [
    "Backend",
    "BackendUnavailable",
    "EndpointStats",
    "InvalidBackendURL",
    "StoreFull",
    "WorkerInfo",
    "open_backend",
]

#: URL scheme → implementing class, imported only when chosen (redis stays optional).
BACKENDS = {
    "sqlite": "inferq.backends.sqlite:SQLiteBackend",
    "redis": "inferq.backends.redis:RedisBackend",
}


class InvalidBackendURL(ValueError):
    """A ``--backend`` URL whose scheme inferq does not know."""


def open_backend(url: str, policy: Policy | None = None) -> Backend:
    """Build (but do not start) the backend for ``url``: ``sqlite:///path`` or ``redis://host:port/db``."""
    scheme = urlsplit(url).scheme
    if scheme not in BACKENDS:
        known = ", ".join(f"{name}://" for name in BACKENDS)
        raise InvalidBackendURL(f"backend URL {url!r}: unknown scheme {scheme!r} (use {known})")
    module_name, _, attr = BACKENDS[scheme].partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), attr)
    return cls(url, policy)
