"""Whisper as it ran before checkpoints, for the long-work benchmark's reference: an attempt
that is lost starts over, and nothing is saved while it runs."""

from __future__ import annotations

from typing import Any

from inferq.models.whisper import Whisper
from inferq.service.running import Run, _run, running


class WhisperFromScratch(Whisper):
    """Whisper that sees no checkpoint to resume and saves none (its progress and
    cancellation still reach the worker)."""

    def _transcribe(self, samples: Any, options: dict[str, Any]) -> dict[str, Any]:
        outer = _run.get()
        if outer is None:
            return super()._transcribe(samples, options)
        bare = Run(outer.progress, lambda state, outputs: None)
        bare.stop = outer.stop
        with running(bare):
            return super()._transcribe(samples, options)
