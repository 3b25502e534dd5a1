"""Files through the SDK, with both clients: uploads, paths and open files as inputs
(streamed as multipart parts), ``inferq.types`` files, references, and batches."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from inferq.types import File
from tests.files.conftest import FileServer
from tests.sdk.conftest import Api


def _file(path: Path, size: int) -> Path:
    path.write_bytes(os.urandom(size))
    return path


def _summary(path: Path) -> dict[str, object]:
    data = path.read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_files_go_in_every_way_the_sdk_takes_them(
    files: FileServer, connect: Callable[..., Api], tmp_path: Path
) -> None:
    api = connect(token=files.server.token, base_url=files.server.url)
    path = _file(tmp_path / "talk.bin", 400_000)
    ref = api.upload(path)
    assert (ref.size, ref.sha256, ref.filename) == (400_000, _summary(path)["sha256"], "talk.bin")
    assert api.infer("echo", {"file": ref, "n": 1}) == {"echo": {"file": _summary(path), "n": 1}}
    assert api.infer("echo", {"file": path, "n": 2}) == {"echo": {"file": _summary(path), "n": 2}}
    with path.open("rb") as handle:
        future = api.infer_async("echo", {"file": handle})
    assert api.result(future, 30) == {"echo": {"file": _summary(path)}}
    typed = File.from_file(path)
    assert api.infer(f"{files.server.url}/echo/predict", {"file": typed}) == {
        "echo": {"file": _summary(path)}
    }
    assert api.infer("echo", {"file": typed.file_b64}) == {"echo": {"file": _summary(path)}}


def test_a_batch_uploads_its_files_and_sends_them_by_reference(
    files: FileServer, connect: Callable[..., Api], tmp_path: Path
) -> None:
    api = connect(token=files.server.token)
    paths = [_file(tmp_path / f"{i}.bin", 1000 + i) for i in range(3)]
    futures = api.infer_batch(
        f"{files.server.url}/echo/predict", [{"file": p, "i": i} for i, p in enumerate(paths)]
    )
    assert [api.result(f, 30) for f in futures] == [
        {"echo": {"file": _summary(p), "i": i}} for i, p in enumerate(paths)
    ]
