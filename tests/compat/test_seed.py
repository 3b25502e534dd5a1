"""The users' own example runs against inferq: with inferq's SDK and with the original client."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.compat.conftest import seed_program
from tests.conftest import Server


def _run_seed(python: Path | str, program: str, cwd: Path, seashells: Path) -> str:
    shutil.copy(seashells, cwd / "she_sells_seashells.wav")
    script = cwd / "seed_run.py"
    script.write_text(program)
    done = subprocess.run(
        [str(python), str(script)], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_seed_runs_with_inferq_s_sdk(whisper_server: Server, seashells: Path, tmp_path: Path) -> None:
    program = seed_program(whisper_server.url, whisper_server.token, client="inferq")
    assert "She sells seashells by the seashore" in _run_seed(sys.executable, program, tmp_path, seashells)


def test_the_seed_runs_unchanged_with_octoai_sdk_0_4_0(
    whisper_server: Server, seashells: Path, tmp_path: Path, octoai_040: Path
) -> None:
    program = seed_program(whisper_server.url, whisper_server.token, client="octoai-0.4.0")
    assert "She sells seashells by the seashore" in _run_seed(octoai_040, program, tmp_path, seashells)


def test_the_seed_runs_with_octoai_sdk_0_10_1(
    whisper_server: Server, seashells: Path, tmp_path: Path, octoai_0101: Path
) -> None:
    program = seed_program(whisper_server.url, whisper_server.token, client="octoai-0.10.1")
    assert "She sells seashells by the seashore" in _run_seed(octoai_0101, program, tmp_path, seashells)
