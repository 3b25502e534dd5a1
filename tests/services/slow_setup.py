"""A model whose setup blocks until a file appears, so a test controls when it is ready."""

import os
import time
from pathlib import Path
from typing import Any

from inferq.service import Service


class SlowSetup(Service):
    def setup(self) -> None:
        gate = Path(os.environ["SETUP_GATE"])
        while not gate.exists():
            time.sleep(0.05)

    def infer(self, **inputs: Any) -> dict[str, Any]:
        return {"ready": True}
