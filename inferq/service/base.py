"""The Service base class: what a model author writes to become an endpoint."""

from __future__ import annotations

from typing import Any, ClassVar


class Service:
    """A model behind an endpoint.

    ``setup`` runs once per worker process, before any request, so weights load once.
    ``infer`` takes the request's inputs as keyword arguments; its annotations are the
    input schema (the gateway validates against it and answers 422 naming the field) and
    its return value, a JSON-serialisable dict, is the response body. Raise
    :class:`inferq.errors.InvalidInput` for an input that can only be judged by trying;
    any other exception fails the request with its message.

    ``infer`` runs in a worker thread of the worker process, never in the gateway.
    """

    #: A request running longer fails with "timed out after N s" and its worker process
    #: is replaced (a thread cannot be stopped). None: ``--timeout``, else no limit.
    timeout_s: ClassVar[float | None] = None

    def setup(self) -> None:
        """Load weights and warm up; called once before the first ``infer``."""

    def infer(self, **inputs: Any) -> dict[str, Any]:
        raise NotImplementedError
