"""Echo: returns its inputs; the reference for overhead benchmarks and tests."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, cast

from pydantic import Field

from inferq.service.base import Example, Service
from inferq.service.running import Cancelled, cancelled, report_progress
from inferq.types import File

#: A delayed echo reports its progress this many times, as a model reports its steps.
PROGRESS_STEPS = 10
#: About what a request without a delay costs, end to end through a worker (seconds).
REQUEST_S = 0.01
#: While it waits, a delayed echo looks this often whether its request was cancelled.
CANCEL_CHECK_S = 0.05


class Echo(Service):
    """Returns its inputs as ``{"echo": inputs}``; ``delay_s`` makes it work that long
    first, reporting its progress in tenths and stopping as soon as it is cancelled. A file sent as ``file`` is echoed as its size
    and SHA-256, so uploads can be checked and measured without a model."""

    example = Example(inputs={"hello": "world"}, output={"echo": {"hello": "world"}})

    @classmethod
    def cost(cls, inputs: Mapping[str, Any], files: Mapping[str, Path]) -> float:
        """The seconds it will take: its delay and what any request costs, so that tests
        of the queue's order state their requests' work, and the pace measured from
        requests without a delay stays about one second per unit."""
        delay = inputs.get("delay_s")
        return REQUEST_S + (float(delay) if isinstance(delay, int | float) else 0.0)

    def infer(
        self,
        delay_s: Annotated[float, Field(ge=0, le=60)] = 0,
        file: Annotated[File | None, Field(description="Any file: echoed as its size and SHA-256.")] = None,
        **inputs: Any,
    ) -> dict[str, Any]:
        if file is not None:
            inputs["file"] = _summary(cast("Path", file))
        if delay_s:
            for step in range(1, PROGRESS_STEPS + 1):
                _wait(delay_s / PROGRESS_STEPS)
                report_progress(step / PROGRESS_STEPS)
            inputs = {"delay_s": delay_s, **inputs}
        return {"echo": inputs}


def _wait(seconds: float) -> None:
    """Sleep, a little at a time, as a model works in steps: a cancel stops it at the next."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        time.sleep(min(left, CANCEL_CHECK_S))
        if cancelled():
            raise Cancelled


def _summary(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}
