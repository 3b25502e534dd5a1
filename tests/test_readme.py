"""The README's Quickstart runs as written: its Python block, run from the clone's root
against a real Whisper server, prints the sample's text (only the address is swapped in)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server

ROOT = Path(__file__).parents[1]


def quickstart() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the Quickstart has a Python block"
    return match.group(1)


def test_the_quickstart_prints_the_samples_text(whisper_server: Server, tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(quickstart().replace("http://127.0.0.1:8000", whisper_server.url))
    env = {**os.environ, "INFERQ_TOKEN": whisper_server.token}
    ran = subprocess.run(
        [sys.executable, str(script)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "She sells seashells by the seashore."
