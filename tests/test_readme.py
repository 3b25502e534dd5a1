"""The README's examples run as written: its Quickstart and OpenAI blocks, run from the
clone's root against a real Whisper server, give the sample's text (only the address and the
token are swapped in)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server

ROOT = Path(__file__).parents[1]


def block(heading: str, language: str) -> str:
    """The first ``language`` block under ``heading`` in the README."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    match = re.search(rf"```{language}\n(.*?)```", section, re.DOTALL)
    assert match is not None, f"{heading} has a {language} block"
    return match.group(1)


def run_from_the_root(argv: list[str], token: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "INFERQ_TOKEN": token}
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_the_quickstart_prints_the_samples_text(whisper_server: Server, tmp_path: Path) -> None:
    script = tmp_path / "quickstart.py"
    script.write_text(block("## Quickstart", "python").replace("http://127.0.0.1:8000", whisper_server.url))
    ran = run_from_the_root([sys.executable, str(script)], whisper_server.token)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "She sells seashells by the seashore."


def test_the_openai_examples_print_the_samples_subtitles_and_text(
    whisper_server: Server, tmp_path: Path
) -> None:
    script = tmp_path / "openai_example.py"
    python = block("### Using OpenAI clients", "python")
    script.write_text(
        python.replace("http://127.0.0.1:8000", whisper_server.url).replace("iq_...", whisper_server.token)
    )
    ran = run_from_the_root([sys.executable, str(script)], whisper_server.token)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "1\n00:00:00,000 --> 00:00:03,000\nShe sells seashells by the seashore.\n\n"
    curl = block("### Using OpenAI clients", "sh").replace("http://127.0.0.1:8000", whisper_server.url)
    ran = run_from_the_root(
        ["bash", "-c", f'H="Authorization: Bearer $INFERQ_TOKEN"\n{curl}'], whisper_server.token
    )
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout == "She sells seashells by the seashore.\n"
