"""A model that appends every request it runs to a file, to count executions across crashes."""

import os
import time
from pathlib import Path
from typing import Any

from inferq.service import Service


class Counts(Service):
    def infer(self, n: int, delay_s: float = 0.0) -> dict[str, Any]:
        time.sleep(delay_s)
        with Path(os.environ["COUNTS_LOG"]).open("a") as log:
            log.write(f"{n}\n")
        return {"n": n}
