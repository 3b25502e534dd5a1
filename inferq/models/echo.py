"""Echo: returns its inputs; the reference for overhead benchmarks and tests."""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import Field

from inferq.service.base import Example, Service
from inferq.service.progress import report_progress

#: A delayed echo reports its progress this many times, as a model reports its steps.
PROGRESS_STEPS = 10


class Echo(Service):
    """Returns its inputs as ``{"echo": inputs}``; ``delay_s`` makes it work that long
    first, reporting its progress in tenths."""

    example = Example(inputs={"hello": "world"}, output={"echo": {"hello": "world"}})

    def infer(self, delay_s: Annotated[float, Field(ge=0, le=60)] = 0, **inputs: Any) -> dict[str, Any]:
        if delay_s:
            for step in range(1, PROGRESS_STEPS + 1):
                time.sleep(delay_s / PROGRESS_STEPS)
                report_progress(step / PROGRESS_STEPS)
            inputs = {"delay_s": delay_s, **inputs}
        return {"echo": inputs}
