"""A model that raises on every request, unless the input says ``ok``."""

from typing import Any

from inferq.service import Service


class Raises(Service):
    def infer(self, ok: bool = False, **inputs: Any) -> dict[str, Any]:
        if ok:
            return {"raised": False}
        raise RuntimeError(f"model exploded on {sorted(inputs)}")
