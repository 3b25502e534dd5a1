"""A full disk under the SQLite store, caused for real on a small tmpfs: submits answer 503
with Retry-After saying the disk is full (never a 500), the worker waits with its result
instead of dying, and once space is freed everything accepted completes."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, wait_until

ASYNC = {"Prefer": "respond-async"}
#: Bigger than any free page SQLite could reuse, so storing it needs new space on the disk.
LARGE = "a" * 400_000


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"this machine lets no test mount a small filesystem: {mounted.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the disk has no space left."""
    with path.open("wb") as filler:
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


def test_a_full_disk_is_a_503_and_loses_nothing_accepted(small_disk: Path, tmp_path: Path) -> None:
    server = Server(f"sqlite:///{small_disk / 'inferq.db'}", ["--endpoints", "echo"], tmp_path / "serve.log")
    server.start(wait_for=("echo",))
    try:
        [worker] = server.workers()
        with server.http() as http:
            running = http.post("/echo/predict", json={"delay_s": 3, "x": LARGE}, headers=ASYNC).json()
            wait_until(lambda: http.get(running["poll_url"]).json()["status"] == "running", 30, "running")
            fill(small_disk / "filler")
            refused = http.post("/echo/predict", json={"x": LARGE}, headers=ASYNC)
            assert refused.status_code == 503, refused.text
            assert "is full" in refused.json()["error"]["message"]
            assert refused.headers["retry-after"] == "1"
            with server.http(token=server.admin_token) as admin:
                scraped = admin.get("/metrics").text
            assert 'inferq_store_refusals_total{reason="full"} 1.0' in scraped
            wait_until(lambda: "store unavailable" in server.log(), 30, "the worker holding its result")
            assert http.get(running["poll_url"]).json()["status"] == "running"
            (small_disk / "filler").unlink()
            accepted = http.post("/echo/predict", json={"x": 1}, headers=ASYNC)
            assert accepted.status_code == 202
            for future in (running, accepted.json()):
                state = http.get(future["poll_url"], params={"wait": 60}).json()
                assert state["status"] == "completed", state
        assert server.workers() == [worker]  # it waited; it did not die
    finally:
        server.stop()
