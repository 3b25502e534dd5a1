"""Carries a model's progress from its thread to the store, a few writes a second at most."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from inferq.backends import BackendUnavailable

if TYPE_CHECKING:
    from inferq.backends import Backend
    from inferq.domain.records import Claim

log = logging.getLogger(__name__)

#: The least time between two progress writes of one request: each is a durable write and
#: a notification, while a model may report on every step.
MIN_INTERVAL_S = 0.5


class ProgressForwarder:
    """The reporter of one claim: callable from the model's thread, writes from the loop.

    Values reported while a write is under way or too soon after the last are coalesced
    into the latest one, which is always written in the end.
    """

    def __init__(self, backend: Backend, claim: Claim, interval: float = MIN_INTERVAL_S) -> None:
        self._backend = backend
        self._claim = claim
        self._interval = interval
        self._loop = asyncio.get_running_loop()
        self._latest: float | None = None
        self._sender: asyncio.Task[None] | None = None

    def __call__(self, fraction: float) -> None:
        """Called from the model's thread."""
        self._loop.call_soon_threadsafe(self._note, float(fraction))

    def _note(self, fraction: float) -> None:
        self._latest = fraction
        if self._sender is None:
            self._sender = self._loop.create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._latest is not None:
                fraction, self._latest = self._latest, None
                try:
                    await self._backend.report_progress(self._claim, fraction)
                except BackendUnavailable as exc:
                    log.info("progress of %s not recorded: %s", self._claim.record.response_id, exc)
                await asyncio.sleep(self._interval)
        finally:
            self._sender = None

    async def close(self) -> None:
        """Stop forwarding: the request has ended, and its end supersedes any progress."""
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
