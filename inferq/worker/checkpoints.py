"""Carries a model's checkpoints from its thread to the store, in order, none skipped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from inferq.backends import BackendUnavailable

if TYPE_CHECKING:
    from inferq.backends import Backend
    from inferq.domain.records import Claim

log = logging.getLogger(__name__)

#: While the store is down, a checkpoint is tried again this often (the model goes on).
RETRY_S = 1.0


def dump(value: Any) -> bytes:
    """A checkpoint's state or output as stored: JSON, numpy arrays as lists."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY)


class CheckpointWriter:
    """The checkpoints of one claim: saved from the model's thread, written from the loop.

    The model never waits for the store. Checkpoints saved while a write is under way are
    merged into the next write (the latest state, every output in order), so nothing is
    skipped and a fast model costs a write per store round trip at most. ``lost`` is called
    when the store says the lease is gone (the request was cancelled).
    """

    def __init__(self, backend: Backend, claim: Claim, lost: Callable[[], None]) -> None:
        self._backend = backend
        self._claim = claim
        self._lost = lost
        self._loop = asyncio.get_running_loop()
        self._state: bytes | None = None
        self._outputs: list[bytes] = []
        self._sender: asyncio.Task[None] | None = None

    def __call__(self, state: Any, outputs: list[Any]) -> None:
        """Called from the model's thread; what cannot be stored raises into the model."""
        dumped = dump(state), [dump(output) for output in outputs]
        self._loop.call_soon_threadsafe(self._note, *dumped)

    def _note(self, state: bytes, outputs: list[bytes]) -> None:
        self._state = state
        self._outputs += outputs
        if self._sender is None:
            self._sender = self._loop.create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._state is not None:
                state, outputs = self._state, self._outputs
                self._state, self._outputs = None, []
                try:
                    stored = await self._backend.checkpoint(self._claim, state, outputs)
                except BackendUnavailable as exc:
                    log.info("checkpoint of %s not stored yet: %s", self._claim.record.response_id, exc)
                    self._state = self._state or state  # a newer one, if saved meanwhile, wins
                    self._outputs = outputs + self._outputs
                    await asyncio.sleep(RETRY_S)
                    continue
                if not stored:
                    self._lost()
                    return
        finally:
            self._sender = None

    async def close(self) -> None:
        """Wait for the checkpoints saved so far to be stored: the partial output of a
        request that ended holds all its model saved."""
        if self._sender is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._sender)
