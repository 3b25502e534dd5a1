"""A model that never returns when asked to hang, and answers otherwise."""

import threading
from typing import Any, ClassVar

from inferq.service import Service


class Hangs(Service):
    timeout_s: ClassVar[float | None] = 1.0

    def infer(self, hang: bool = False) -> dict[str, Any]:
        if hang:
            threading.Event().wait()
        return {"hung": False}
