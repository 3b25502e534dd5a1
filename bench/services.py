"""A model whose calls cost a fixed 20 ms plus 1 ms per input, with and without its batch form."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from inferq.service import Service

CALL_S = 0.020
PER_INPUT_S = 0.001


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
