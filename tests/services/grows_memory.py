"""A model that allocates without bound when the input asks it to, touching every page it gets."""

from typing import Any

from inferq.service import Service

CHUNK = 32 << 20


class GrowsMemory(Service):
    def infer(self, grow: bool = False) -> dict[str, Any]:
        hoard = []
        while grow:
            hoard.append(b"\x01" * CHUNK)
        return {"grew": False}
