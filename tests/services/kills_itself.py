"""A model whose process dies with SIGKILL in the middle of a request, unless told otherwise.

``marker`` names a file: the first run creates it and dies, later runs succeed, so a
test can see a request survive its worker's death.
"""

import os
import signal
from pathlib import Path
from typing import Any

from inferq.service import Service


class KillsItself(Service):
    def infer(self, marker: str, always: bool = False) -> dict[str, Any]:
        path = Path(marker)
        if always or not path.exists():
            path.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        runs = path.with_suffix(".runs")
        with runs.open("a") as log:
            log.write("run\n")
        return {"survived": True}
