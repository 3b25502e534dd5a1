"""A model that reads address 0 (SIGSEGV, as a broken C extension would) when the input asks it to."""

import ctypes
from typing import Any

from inferq.service import Service


class Segfaults(Service):
    def infer(self, crash: bool = False) -> dict[str, Any]:
        if crash:
            ctypes.string_at(0)
        return {"crashed": False}
