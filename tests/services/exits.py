"""A model whose process exits with code 3 in the middle of a request, when the input asks it to."""

import os
from typing import Any

from inferq.service import Service


class Exits(Service):
    def infer(self, exit: bool = False) -> dict[str, Any]:
        if exit:
            os._exit(3)
        return {"exited": False}
