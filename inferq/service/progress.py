"""Progress a model reports while it runs, shown in its request's status and event stream.

``infer`` runs in a worker thread with no handle on its request, so the worker sets a
reporter in a context variable that the thread inherits; ``report_progress`` finds it
there. Outside a worker (a test or a notebook calling ``infer`` directly) it does nothing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Reporter = Callable[[float], None]

_reporter: ContextVar[Reporter | None] = ContextVar("inferq_progress_reporter", default=None)


def report_progress(fraction: float) -> None:
    """Say how far the current request has got, from 0 to 1. Cheap enough to call for
    every step: the worker forwards only the latest value a few times a second."""
    reporter = _reporter.get()
    if reporter is not None:
        reporter(fraction)


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Route ``report_progress`` calls made in this context (and threads started from it)."""
    token = _reporter.set(reporter)
    try:
        yield
    finally:
        _reporter.reset(token)
