"""A server that stops and comes back is ridden out; one that stays away is reported as an
inferq error (never a transport exception), within the caller's timeout."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from inferq import Client, InferenceFuture, InferqError, ServerUnreachable
from tests.conftest import Server, free_port
from tests.sdk.conftest import Api


def test_calls_made_while_the_server_restarts_go_through_after_it(serve: Callable[..., Server]) -> None:
    server = serve("--no-workers", wait_for=())  # nothing runs: the first request stays pending
    with Client(token=server.token, base_url=server.url) as client:
        before = client.infer_async("echo", {"n": 1})
        server.stop()
        outcomes: dict[str, Any] = {}

        def during(name: str, call: Callable[[], Any]) -> threading.Thread:
            def run() -> None:
                try:
                    outcomes[name] = call()
                except Exception as exc:  # noqa: BLE001 - asserted on below
                    outcomes[name] = exc

            thread = threading.Thread(target=run)
            thread.start()
            return thread

        calls = [
            during("submit", lambda: client.infer_async("echo", {"n": 2})),
            during("ready", lambda: client.is_future_ready(before)),
            during("result", lambda: before.result(timeout=120)),
        ]
        time.sleep(3)  # the outage: every call is in its retries, none has given up
        assert all(call.is_alive() for call in calls), outcomes
        restarted = dataclasses.replace(server, args=["--endpoints", "echo"], proc=None)
        try:
            restarted.start(wait_for=("echo",))
            for call in calls:
                call.join(90)
            assert outcomes["result"] == {"echo": {"n": 1}}
            assert outcomes["ready"] in (True, False)
            assert isinstance(outcomes["submit"], InferenceFuture)
            assert outcomes["submit"].result(timeout=60) == {"echo": {"n": 2}}
        finally:
            restarted.stop()


def test_a_server_that_stays_away_is_an_inferq_error(connect: Callable[..., Api]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = connect("iq_token", nowhere, retry_for=0.5)
    future = InferenceFuture(response_id="r1", poll_url=f"{nowhere}/v1/requests/r1")
    for call in (
        lambda: client.infer_async("echo", {"n": 1}),
        lambda: client.is_future_ready(future),
        lambda: client.health_check("echo", timeout=0.5),
    ):
        with pytest.raises(ServerUnreachable) as refused:
            call()
        assert isinstance(refused.value, InferqError)
        assert isinstance(refused.value.__cause__, httpx.ConnectError)
        assert nowhere in str(refused.value)


@pytest.mark.timeout(60)  # a wait that took the client's hour of retries would be cut here
def test_a_wait_gives_up_at_its_own_timeout_not_the_retry_budget(connect: Callable[..., Api]) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    client = connect("iq_token", nowhere, retry_for=3600)
    future = client.client._future({"response_id": "r1", "poll_url": f"{nowhere}/v1/requests/r1"})
    with pytest.raises(ServerUnreachable):
        client.result(future, timeout=1.0)
