"""Models for the benchmarks: one whose calls cost a fixed 20 ms plus 1 ms per input, with and
without its batch form; one whose work is what its request declares."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from inferq.service import Cancelled, Service, cancelled

CALL_S = 0.020
PER_INPUT_S = 0.001
#: How often declared work looks whether its request was cancelled (a deadline's cancel).
CANCEL_CHECK_S = 0.01


class CallCost(Service):
    """One input per call: every request pays the fixed cost."""

    def infer(self, x: int = 0) -> dict[str, Any]:
        time.sleep(CALL_S + PER_INPUT_S)
        return {"x": x}


class BatchedCallCost(CallCost):
    """Up to 32 inputs per call, the first waiting 5 ms for others: the fixed cost is shared."""

    batch_size: ClassVar[int] = 32
    batch_wait_s: ClassVar[float] = 0.005

    def infer_batch(self, inputs: list[dict[str, Any]]) -> list[dict[str, Any] | Exception]:
        time.sleep(CALL_S + PER_INPUT_S * len(inputs))
        return [{"x": each.get("x", 0)} for each in inputs]


class AudioSeconds(Service):
    """Whisper as the queue sees it: a request declares ``seconds`` of audio, the cost is
    that figure (as Whisper reads it from a file's header) and the run takes it times
    ``SCALE``, so a one-hour file takes 1.2 s and a 3 s clip 1 ms. It stops at a cancel, as
    Whisper does between windows, so a deadline frees the worker without replacing it."""

    SCALE: ClassVar[float] = 1.2 / 3600

    @classmethod
    def cost(cls, inputs: Mapping[str, Any], files: Mapping[str, Path]) -> float:
        return float(inputs.get("seconds", 0))

    def infer(self, seconds: float = 0) -> dict[str, Any]:
        end = time.monotonic() + seconds * self.SCALE
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, CANCEL_CHECK_S))
            if cancelled():
                raise Cancelled
        return {"seconds": seconds}


class WorkSeconds(AudioSeconds):
    """The same at 10 ms per declared second: a declared minute takes 0.6 s, a second 10 ms,
    long enough that the queue's order, not its per-request overhead, decides the waits."""

    SCALE: ClassVar[float] = 0.01
