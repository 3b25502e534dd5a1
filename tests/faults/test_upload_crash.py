"""The gateway killed (``kill -9`` of the whole tree) in the middle of an upload: every
request that already had its 202 runs after the restart with its file intact, and the
cut-off upload left no file behind."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from tests.conftest import Server, wait_until

ASYNC = {"X-OctoAI-Async": "1"}


def test_kill_9_mid_upload_loses_no_request_that_had_its_202(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve("--blob-store", (tmp_path / "blobs").as_uri(), "--lease", "1s")
    files = [os.urandom(200_000 + n) for n in range(4)]
    with server.http() as http:
        futures = [
            http.post(
                "/echo/predict", files={"file": ("f", data)}, data={"delay_s": "0.5"}, headers=ASYNC
            ).json()
            for data in files
        ]
    cut = socket.create_connection(("127.0.0.1", server.port))
    head = (
        f"POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 104857600\r\n\r\n"
    ).encode()
    cut.sendall(head + os.urandom(4 << 20))
    wait_until(lambda: any((tmp_path / "blobs").rglob("*.part")), what="the upload to be under way")
    server.kill_tree(signal.SIGKILL)
    cut.close()

    server.start(wait_for=("echo",))
    with server.http() as http:
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [http.get(s["response_url"]).json() for s in states]
        listed = http.get("/v1/files").json()["results"]
    assert [s["status"] for s in states] == ["completed"] * 4
    expected = [{"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for d in files]
    assert outputs == [{"echo": {"delay_s": 0.5, "file": summary}} for summary in expected]
    assert sorted(f["size"] for f in listed) == sorted(len(d) for d in files)


def test_a_worker_killed_with_a_file_in_hand_is_replaced_and_the_file_read_again(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    server = serve("--blob-store", (tmp_path / "blobs").as_uri(), "--lease", "1s")
    data = os.urandom(500_000)
    with server.http() as http:
        future = http.post(
            "/echo/predict", files={"file": ("f", data)}, data={"delay_s": "2"}, headers=ASYNC
        ).json()
        wait_until(lambda: http.get(future["poll_url"]).json()["status"] == "running", what="running")
        (worker,) = server.workers()
        os.kill(worker, signal.SIGKILL)
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        output = http.get(state["response_url"]).json()
    assert (state["status"], state["attempts"]) == ("completed", 2)
    assert output == {
        "echo": {"delay_s": 2.0, "file": {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}}
    }
