"""Virtual environments holding the original OctoAI client, built once and reused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEED = Path(__file__).with_name("seed.py")


def octoai_venv(version: str) -> Path:
    """A venv with ``octoai-sdk==version`` alone (its pins clash with ours), made on first use."""
    venv = ROOT / ".venv-compat" / f"octoai-{version}"
    python = venv / "bin" / "python"
    if not (venv / ".installed").exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"octoai-sdk=={version}"], check=True)
        (venv / ".installed").touch()
    return python


def seed_program(url: str, token: str, *, client: str) -> str:
    """The seed with its blanks filled in; ``client`` swaps the imports for inferq's SDK or 0.10.1's Audio."""
    text = SEED.read_text()
    text = text.replace('"API Token goes here from guide on creating OctoAI API token"', repr(token))
    text = text.replace('whisper_url = ""', f'whisper_url = "{url}/whisper/predict"')
    text = text.replace('whisper_health_check = ""', f'whisper_health_check = "{url}/whisper/healthcheck"')
    if client == "inferq":
        text = text.replace("from octoai.client import Client", "from inferq import Client")
        text = text.replace("from octoai.types import Audio", "from inferq.types import Audio")
    elif client == "octoai-0.10.1":
        # 0.10.1's Audio keeps the base64 as bytes in .data, which its infer_async cannot send as JSON.
        text = text.replace(".audio_b64", ".data.decode()")
    return text


@pytest.fixture(scope="session")
def octoai_040() -> Path:
    return octoai_venv("0.4.0")


@pytest.fixture(scope="session")
def octoai_0101() -> Path:
    return octoai_venv("0.10.1")
