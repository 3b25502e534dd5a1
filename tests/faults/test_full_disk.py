"""A full disk under the store, caused for real on a small tmpfs: submits answer 503 with
Retry-After saying the store is full (never a 500), ``/metrics`` counts it, the worker waits
with its result instead of dying, and once space is freed everything accepted completes. For
SQLite, and for Redis writing its append-only file every second (with ``appendfsync always``
Redis exits on a failed write instead: a crash, which tests/backends/test_redis_only.py causes)."""

from __future__ import annotations

import errno
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Server, wait_until
from tests.redis_server import RedisServer

ASYNC = {"Prefer": "respond-async"}
#: Bigger than any free page SQLite could reuse, so storing it needs new space on the disk.
LARGE = "a" * 400_000
FULL = 'inferq_store_refusals_total{reason="full"}'


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


def refusals(scraped: str) -> float:
    """``inferq_store_refusals_total{reason="full"}`` in a scrape of ``/metrics``."""
    [value] = [line.split()[-1] for line in scraped.splitlines() if line.startswith(FULL)]
    return float(value)


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
                assert refusals(admin.get("/metrics").text) == 1
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


def test_a_redis_whose_disk_is_full_is_a_503_and_loses_nothing_accepted(
    small_disk: Path, tmp_path: Path
) -> None:
    redis_server = RedisServer(small_disk, appendfsync="everysec").start()
    server = Server(redis_server.url, ["--endpoints", "echo"], tmp_path / "serve.log")
    server.start(wait_for=("echo",))
    try:
        with server.http() as http:
            accepted = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
            fill(small_disk / "filler")
            refused = wait_until(
                lambda: (
                    (answer := http.post("/echo/predict", json={"x": LARGE}, headers=ASYNC)).status_code
                    == 503
                    and answer
                ),
                30,
                "Redis to refuse writes",
            )
            assert "disk or memory is full" in refused.json()["error"]["message"]
            assert refused.headers["retry-after"] == "1"
            with server.http(token=server.admin_token) as admin:
                assert refusals(admin.get("/metrics").text) >= 1
            (small_disk / "filler").unlink()
            later = wait_until(
                lambda: (
                    (answer := http.post("/echo/predict", json={"x": 2}, headers=ASYNC)).status_code == 202
                    and answer
                ),
                30,
                "Redis to take writes again",
            )
            for future in (accepted, later.json()):
                state = http.get(future["poll_url"], params={"wait": 60}).json()
                assert state["status"] == "completed", state
    finally:
        server.stop()
        redis_server.kill()
