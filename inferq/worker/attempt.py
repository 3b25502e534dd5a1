"""One call of the model as the worker follows it, to stop it when its requests are gone."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inferq.domain.records import Claim
    from inferq.service.running import Run


class Attempt:
    """A call of the model on ``claims``: halted (the model told to stop) once every one of
    its leases is lost, since its output would then be discarded. A batch whose other
    requests still want their results runs on."""

    def __init__(self, claims: list[Claim], run: Run) -> None:
        self.claims = claims
        self.run = run
        self.halted = asyncio.Event()
        self._held = {claim.lease_id for claim in claims}

    @property
    def name(self) -> str:
        """The call's first request id, as logs and errors name it."""
        return self.claims[0].record.response_id

    def lose(self, lease_id: str) -> None:
        self._held.discard(lease_id)
        if not self._held:
            self.halt()

    def halt(self) -> None:
        self.run.stop.set()
        self.halted.set()
