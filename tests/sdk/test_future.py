"""InferenceFuture: serialise, resume, wait with long polls, and as_completed."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inferq import InferenceFailed, InferenceFuture, RequestCancelled, WaitTimeout
from tests.conftest import Server, occupy
from tests.sdk.conftest import Api

Connect = Callable[..., Api]
ACCEPTED = {
    "response_id": "abc",
    "poll_url": "http://127.0.0.1:8000/v1/requests/abc",
    "status": "pending",
    "created_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-01-02T00:00:00Z",
}


def test_a_future_serialises_to_its_two_fields() -> None:
    future = InferenceFuture.model_validate(ACCEPTED)
    resumed = InferenceFuture.model_validate_json(future.model_dump_json())
    assert future.model_dump() == {"response_id": "abc", "poll_url": ACCEPTED["poll_url"]}
    assert resumed == future
    assert hash(resumed) == hash(future)
    assert resumed.client is None


def test_a_future_resumes_in_another_client(echo_server: Server, connect: Connect) -> None:
    saved = connect(echo_server.token, echo_server.url).infer_async("echo", {"x": 1}).model_dump_json()
    resumed = InferenceFuture.model_validate_json(saved)
    assert connect(echo_server.token).wait(resumed, timeout=30) == {"echo": {"x": 1}}


def test_a_resumed_future_uses_the_environment(
    echo_server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved = connect(echo_server.token, echo_server.url).infer_async("echo", {"x": 2}).model_dump_json()
    monkeypatch.setenv("INFERQ_TOKEN", echo_server.token)
    resumed = InferenceFuture.model_validate_json(saved)
    assert connect(echo_server.token).result(resumed, timeout=30) == {"echo": {"x": 2}}


def test_result_waits_with_the_client_that_made_it(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"delay_s": 0.5})
    assert future.client is client.client
    assert client.result(future, timeout=30) == {"echo": {"delay_s": 0.5}}


def test_a_short_wait_times_out_and_the_request_goes_on(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"delay_s": 2})
    with pytest.raises(WaitTimeout):
        client.result(future, timeout=0.2)
    with pytest.raises(WaitTimeout):
        client.wait(future, timeout=0.2)
    with pytest.raises(WaitTimeout):
        client.as_completed([future], timeout=0.2)
    assert client.result(future, timeout=30) == {"echo": {"delay_s": 2}}


def test_a_cancelled_future_has_no_result(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    with echo_server.http() as http:
        occupy(http, 1)  # holds the only worker
    queued = client.infer_async("echo", {"x": 1})
    client.cancel_future(queued)
    with pytest.raises(RequestCancelled):
        client.result(queued, timeout=30)


def test_as_completed_yields_in_completion_order(echo_server: Server, connect: Connect) -> None:
    """One worker runs a token's shorter work first, and of equal work the oldest first, so
    these end in the order they were sent, whatever order they are waited on in."""
    client = connect(echo_server.token, echo_server.url)
    first, second, third = (client.infer_async("echo", {"delay_s": d}) for d in (0.1, 0.3, 0.3))
    assert client.as_completed([third, second, first], timeout=30) == [first, second, third]
    assert client.result(third) == {"echo": {"delay_s": 0.3}}


def test_as_completed_yields_failed_futures_too(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    futures = [client.infer_async("raises", {"x": 1}), client.infer_async("echo", {"y": 2})]
    assert sorted(f.response_id for f in client.as_completed(futures, timeout=30)) == sorted(
        f.response_id for f in futures
    )
    with pytest.raises(InferenceFailed):
        client.result(futures[0])
