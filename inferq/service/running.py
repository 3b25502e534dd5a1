"""What a running ``infer`` can do besides compute: report its progress, save checkpoints
with its partial output, find the checkpoint it resumes from, and learn that it should stop.

``infer`` runs in a worker thread with no handle on its request, so the worker sets the
call's :class:`Run` in a context variable that the thread inherits; the functions here find
it there. Outside a worker (a test or a notebook calling ``infer`` directly) they do
nothing: there is no checkpoint to resume from, and nothing is ever cancelled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


class Cancelled(BaseException):
    """Raised into a model by :func:`report_progress` and :func:`checkpoint` once its request
    was cancelled or ran out of time, so that it stops at its next step. A BaseException,
    as asyncio's: a model's ``except Exception`` does not swallow it. Catch it only to clean up."""


@dataclass(frozen=True, slots=True)
class Resume:
    """Where an earlier attempt of this request stopped: the ``state`` its last checkpoint
    saved, and every piece of partial output saved up to it, in order."""

    state: Any
    outputs: list[Any] = field(default_factory=list)


class Run:
    """One call of ``infer`` (or ``infer_batch``) as the worker runs it."""

    def __init__(
        self,
        progress: Callable[[float], None],
        save: Callable[[Any, list[Any]], None],
        resume: Resume | None = None,
    ) -> None:
        #: Where the model's progress and checkpoints go (the worker's forwarders).
        self.progress = progress
        self.save = save
        self.resume = resume
        #: Set by the worker from its event loop when the call should stop.
        self.stop = threading.Event()

    def check(self) -> None:
        if self.stop.is_set():
            raise Cancelled


_run: ContextVar[Run | None] = ContextVar("inferq_run", default=None)


def report_progress(fraction: float) -> None:
    """Say how far the current request has got, from 0 to 1. Cheap enough to call for
    every step: the worker forwards only the latest value a few times a second. Raises
    :class:`Cancelled` once the request should stop."""
    run = _run.get()
    if run is not None:
        run.check()
        run.progress(fraction)


def checkpoint(state: Any, outputs: Iterable[Any] = ()) -> None:
    """Save how far the request has got: ``state`` (JSON-serialisable) is what a later
    attempt receives from :func:`resumed` if this one is lost, and ``outputs`` the pieces
    of output made since the last checkpoint, shown to callers as they come (a transcript's
    new segments). Returns at once: checkpoints are stored in order, durably, while the
    model goes on. Raises :class:`Cancelled` once the request should stop."""
    run = _run.get()
    if run is not None:
        run.check()
        run.save(state, list(outputs))


def resumed() -> Resume | None:
    """The checkpoint to continue from when an earlier attempt of this request was lost
    (its worker crashed or was stopped), else None: start from the beginning."""
    run = _run.get()
    return None if run is None else run.resume


def cancelled() -> bool:
    """True once the current request was cancelled or ran out of time: stop soon (raising
    :class:`Cancelled`, or returning anything: the result is discarded either way)."""
    run = _run.get()
    return run is not None and run.stop.is_set()


@contextlib.contextmanager
def running(run: Run) -> Iterator[None]:
    """Make ``run`` the current call in this context (and threads started from it)."""
    token = _run.set(run)
    try:
        yield
    finally:
        _run.reset(token)
