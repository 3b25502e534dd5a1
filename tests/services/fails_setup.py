"""A model whose setup raises until a file appears, as when its weights are missing until an
operator puts them in place."""

import os
from pathlib import Path
from typing import Any

from inferq.service import Service


class FailsSetup(Service):
    def setup(self) -> None:
        weights = Path(os.environ["SETUP_WEIGHTS"])
        if not weights.exists():
            raise FileNotFoundError(f"no weights at {weights}")

    def infer(self, **inputs: Any) -> dict[str, Any]:
        return {"ready": True}
