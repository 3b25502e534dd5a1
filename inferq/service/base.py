"""The Service base class: what a model author writes to become an endpoint."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from inferq.domain.scheduling import DEFAULT_COST

#: The cores each worker process of an endpoint may use: ``inferq serve`` shares the
#: machine's among the workers it starts, unless it is set.
WORKER_THREADS_ENV = "INFERQ_WORKER_THREADS"


def endpoint_setting(name: str, endpoint: str) -> str | None:
    """Variable ``name`` for ``endpoint`` (``name__ENDPOINT``, in capitals), else ``name``;
    None when neither is set. How a model configured by the environment is set per endpoint."""
    suffix = endpoint.upper().replace("-", "_")
    return os.environ.get(f"{name}__{suffix}") or os.environ.get(name) or None


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def worker_threads() -> int:
    """The threads a model in this worker should use: its share of the cores."""
    share = os.environ.get(WORKER_THREADS_ENV, "")
    return int(share) if share.isdigit() and int(share) > 0 else cores()


@dataclass(frozen=True, slots=True)
class Example:
    """A request and its answer, shown in ``/docs`` and the OpenAPI document."""

    inputs: dict[str, Any]
    output: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Rendering:
    """Another form of an endpoint's outputs (subtitles of a transcript, say), made by the
    gateway from the stored outputs for ``GET /v1/requests/{id}/response?format=NAME``."""

    media_type: str
    render: Callable[[dict[str, Any]], str]


class Service:
    """A model behind an endpoint.

    ``setup`` runs once per worker process, before any request, so weights load once.
    ``infer`` takes the request's inputs as keyword arguments; its annotations are the
    input schema (the gateway validates against it and answers 422 naming the field) and
    its return value, a JSON-serialisable dict (numpy arrays in it become lists), is the response body. Raise
    :class:`inferq.errors.InvalidInput` for an input that can only be judged by trying;
    any other exception fails the request with its message.

    ``infer`` runs in a worker thread of the worker process, never in the gateway.
    """

    #: A request running longer fails with "timed out after N s" and its worker process
    #: is replaced (a thread cannot be stopped). None: ``--timeout``, else no limit.
    timeout_s: ClassVar[float | None] = None

    #: What callers see in ``/docs`` as a sample call and its outputs.
    example: ClassVar[Example | None] = None

    #: The batch form: requests that arrive together run as one ``infer_batch`` call of up
    #: to ``batch_size``, the first waiting at most ``batch_wait_s`` for others to join.
    #: A model whose cost per call falls with more inputs at once (a GPU, a matrix
    #: library) serves more that way. 1: no batching, ``infer`` per request. ``setup`` may
    #: set them for the machine it finds.
    batch_size: int = 1
    batch_wait_s: float = 0.0

    #: Other renderings of the outputs, by the name ``?format=`` asks for.
    formats: ClassVar[Mapping[str, Rendering]] = {}

    def __init__(self, endpoint: str = "") -> None:
        #: The endpoint this instance serves: a model configured per endpoint reads its
        #: settings by this name.
        self.endpoint = endpoint

    @classmethod
    def default_workers(cls) -> int:
        """Worker processes per endpoint when ``--workers`` is not given."""
        return 1

    @classmethod
    def cost(cls, inputs: Mapping[str, Any], files: Mapping[str, Path]) -> float:
        """The work ``inputs`` ask for, in the endpoint's own unit (Whisper: seconds of
        audio), estimated at submit so that the queue shares the endpoint's time by cost and
        runs a caller's short work before its long work (:mod:`inferq.domain.scheduling`).
        ``files`` holds each file input that was given as a local file. It runs in the
        gateway, never the model's process: in a thread, or on the event loop for a body
        under 64 KiB with no file, so read what a header says, never decode it all.
        Only ratios matter; the default, 1, makes every request count the same."""
        return DEFAULT_COST

    @classmethod
    def version(cls, endpoint: str) -> str:
        """What identifies the model ``endpoint`` runs: a request that asks to reuse a
        result (``Prefer: reuse``) is answered only from one made by the same version. The
        default names the class; a model whose weights or settings change its outputs names
        them too."""
        return f"{cls.__module__}.{cls.__qualname__}"

    def setup(self) -> None:
        """Load weights and warm up; called once before the first ``infer``."""

    def infer(self, **inputs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def infer_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        """Run several requests' inputs in one call (when ``batch_size`` > 1): one result
        per input, in order; an exception in the list fails that request alone, one
        raised fails them all. Each input has passed ``infer``'s schema."""
        results: list[dict[str, Any] | Exception] = []
        for each in inputs:
            try:
                results.append(self.infer(**each))
            except Exception as exc:  # noqa: BLE001 - one input's failure is its own
                results.append(exc)
        return results
