"""A model that sleeps without ever looking whether it should stop, as a long library call does."""

import time
from typing import Any

from inferq.service import Service


class Sleeps(Service):
    def infer(self, seconds: float = 0.0) -> dict[str, Any]:
        time.sleep(seconds)
        return {"slept": seconds}
