"""Model faults caused for real, one tiny service each (cog's fixture predictors).

Each service misbehaves only when its input asks it to, so one test shows both halves:
the request fails with the reason, and the endpoint serves the next request. Deaths
are reported by the supervisor, which saw the exit, so they cost no lease: the lease is
set longer than the test's own deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SERVICES, Server, wait_until

ASYNC = {"X-OctoAI-Async": "1"}


@dataclass(frozen=True)
class Fault:
    service: str  #: ``file.py:Class`` under tests/services
    trigger: dict[str, Any]  #: the inputs that make it misbehave
    reason: str  #: the failed request's error message
    args: tuple[str, ...] = field(default=())  #: extra ``inferq serve`` flags
    healthy: dict[str, Any] = field(default_factory=dict)  #: inputs it answers


FAULTS = {
    "raises": Fault(
        "raises.py:Raises", {"boom": 1}, "RuntimeError: model exploded on ['boom']", healthy={"ok": True}
    ),
    "exits": Fault(
        "exits.py:Exits", {"exit": True}, "the worker exited with code 3; giving up after 2 attempts"
    ),
    "segfaults": Fault(
        "segfaults.py:Segfaults",
        {"crash": True},
        "the worker was killed by SIGSEGV; giving up after 2 attempts",
    ),
    "grows_memory": Fault(
        "grows_memory.py:GrowsMemory",
        {"grow": True},
        "MemoryError: out of memory: the worker's limit is 1 GiB (--max-memory)",
        ("--max-memory", "1G"),
    ),
    "hangs": Fault("hangs.py:Hangs", {"hang": True}, "timed out after 1 s"),
}


@pytest.mark.parametrize("fault", [pytest.param(fault, id=name) for name, fault in FAULTS.items()])
def test_a_fault_fails_its_request_with_the_reason_and_the_endpoint_serves_the_next(
    serve: Callable[..., Server], fault: Fault
) -> None:
    server = serve(
        "--lease", "60s", "--max-attempts", "2", *fault.args, endpoints=f"faulty={SERVICES / fault.service}"
    )
    with server.http() as http:
        started = time.monotonic()
        doomed = http.post("/faulty/predict", json=fault.trigger, headers=ASYNC).json()
        state = http.get(doomed["poll_url"], params={"wait": 60}).json()
        assert (state["status"], state["error"]["message"]) == ("failed", fault.reason)
        assert time.monotonic() - started < 30, "a dead worker's request waited for its lease"
        server.wait_ready("faulty")
        after = http.post("/faulty/predict", json=fault.healthy)
    assert after.status_code == 200, after.text


def test_a_failed_setup_keeps_requests_pending_and_the_healthcheck_says_why(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    weights = tmp_path / "weights.bin"
    server = serve(
        endpoints=f"model={SERVICES / 'fails_setup.py'}:FailsSetup",
        wait_for=(),
        env={"SETUP_WEIGHTS": str(weights)},
    )
    with server.http() as http:
        future = http.post("/model/predict", json={"x": 1}, headers=ASYNC).json()

        def setup_error() -> dict[str, Any]:
            health = http.get("/model/healthcheck")
            error: dict[str, Any] = health.json()["error"]
            return error if health.status_code == 503 and "setup_error" in error else {}

        error = wait_until(setup_error, 30, "the healthcheck to show the setup error")
        assert error["setup_error"] == f"FileNotFoundError: no weights at {weights}"
        assert error["message"].endswith(f"its last setup failed: FileNotFoundError: no weights at {weights}")
        assert http.get(future["poll_url"]).json()["status"] == "pending"
        weights.touch()  # the operator puts the weights in place; the next restart loads them
        state = http.get(future["poll_url"], params={"wait": 60}).json()
        health = http.get("/model/healthcheck")
    assert state["status"] == "completed"
    assert health.status_code == 200
