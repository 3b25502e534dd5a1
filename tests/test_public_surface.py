"""The SDK's public surface is deliberate, and ``import inferq`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import inferq

SERVER_ONLY = ("starlette", "uvicorn", "redis", "orjson", "faster_whisper", "av", "numpy")


def test_all_lists_exactly_the_public_names() -> None:
    public = [
        name
        for name, value in vars(inferq).items()
        if (not name.startswith("_") or name == "__version__") and not isinstance(value, types.ModuleType)
    ]
    assert inferq.__all__ == sorted(public)


def test_every_exported_name_exists() -> None:
    for name in inferq.__all__:
        assert getattr(inferq, name) is not None


def test_import_inferq_loads_no_server_dependency() -> None:
    code = "import inferq, json, sys; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    heavy = sorted(m for m in loaded if m.split(".")[0] in SERVER_ONLY)
    assert heavy == []
