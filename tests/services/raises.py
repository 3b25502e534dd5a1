"""A model that raises on every request."""

from typing import Any

from inferq.service import Service


class Raises(Service):
    def infer(self, **inputs: Any) -> dict[str, Any]:
        raise RuntimeError(f"model exploded on {sorted(inputs)}")
