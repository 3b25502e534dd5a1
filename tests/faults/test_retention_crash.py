"""Retention through a crash: a sweep killed halfway resumes after a restart and leaves nothing.

A sweep deletes in batches, each one SQLite transaction or one Redis script, so a kill
leaves whole requests, never half of one; whatever it had not reached is still in the
expiry index, where the next gateway's sweep finds it. Requests that end a few seconds
apart expire a few seconds apart, so killing the tree once the first has gone interrupts
retention in the middle of its work.
"""

from __future__ import annotations

import secrets
import signal
from collections.abc import Callable

from tests.conftest import Server, wait_until
from tests.store import stored_bytes, stored_requests

ASYNC = {"X-OctoAI-Async": "1"}
REQUESTS = 150


def test_a_sweep_killed_halfway_resumes_after_restart_and_leaves_nothing(
    serve: Callable[..., Server],
) -> None:
    server = serve("--retention", "2s", "--lease", "1s")
    marker = f"secret-{secrets.token_hex(8)}"
    with server.http() as http:
        futures = [
            http.post("/echo/predict", json={"m": f"{marker}-{i}", "delay_s": 0.03}, headers=ASYNC).json()
            for i in range(REQUESTS)
        ]
        wait_until(lambda: http.get(futures[0]["poll_url"]).status_code == 404, 30, "the sweep to begin")
    server.kill_tree(signal.SIGKILL)
    left = stored_requests(server.backend)
    assert 0 < left < REQUESTS, f"the kill should fall mid-retention, {left} of {REQUESTS} were left"

    server.start(wait_for=("echo",))
    with server.http() as http:

        def all_gone() -> bool:
            states = (http.get(f["poll_url"]).json() for f in futures[::-1])
            return all(state.get("error", {}).get("type") == "expired" for state in states)

        wait_until(all_gone, 60, "every request to expire")
    assert stored_requests(server.backend) == 0
    traces = [marker.encode(), *(f["response_id"].encode() for f in futures)]  # data, and index entries

    def nothing_left() -> bool:
        stored = stored_bytes(server.backend)
        return not any(trace in stored for trace in traces)

    wait_until(nothing_left, 10, "the store to hold nothing of them")
