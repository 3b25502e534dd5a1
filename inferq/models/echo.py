"""Echo: returns its inputs; the reference for overhead benchmarks and tests."""

from __future__ import annotations

import time
from typing import Annotated, Any

from pydantic import Field

from inferq.service.base import Service


class Echo(Service):
    """Returns its inputs as ``{"echo": inputs}``; ``delay_s`` makes it work that long first."""

    def infer(
        self, delay_s: Annotated[float, Field(ge=0, le=60)] = 0, **inputs: Any
    ) -> dict[str, Any]:
        if delay_s:
            time.sleep(delay_s)
            inputs = {"delay_s": delay_s, **inputs}
        return {"echo": inputs}
