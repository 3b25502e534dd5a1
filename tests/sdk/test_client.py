"""Client and AsyncClient against a real ``inferq serve``: each test runs with both."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from inferq import Conflict, InferenceFailed, InvalidInput, NotFound, RequestCancelled, Unauthorized
from tests.conftest import Server, occupy, wait_until
from tests.sdk.conftest import Api

Connect = Callable[..., Api]


def test_seed_workflow(echo_server: Server, connect: Connect) -> None:
    """The OctoAI async example as written: absolute URLs, health check, future, poll, result."""
    client = connect(token=echo_server.token)
    inputs = {"language": "en", "task": "transcribe", "audio": "aGVsbG8="}
    assert client.health_check(f"{echo_server.url}/echo/healthcheck") == 200
    future = client.infer_async(f"{echo_server.url}/echo/predict", inputs)
    wait_until(lambda: client.is_future_ready(future), what="future ready")
    assert client.get_future_result(future) == {"echo": inputs}


def test_infer_by_url_path_or_name(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    assert client.infer(f"{echo_server.url}/echo/predict", {"a": 1}) == {"echo": {"a": 1}}
    assert client.infer("/echo/infer", {"b": 2}) == {"echo": {"b": 2}}
    assert client.infer("echo", {"c": 3}) == {"echo": {"c": 3}}


def test_relative_url_needs_a_base_url(connect: Connect) -> None:
    client = connect(token="t")
    with pytest.raises(ValueError, match="INFERQ_BASE_URL"):
        client.infer("echo", {})


def test_get_future_result_is_none_until_completed(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"delay_s": 1})
    assert client.get_future_result(future) is None
    assert client.wait(future, timeout=30) == {"echo": {"delay_s": 1}}


def test_infer_outlasting_the_gateway_wait_goes_on_by_long_polls(
    shared: Callable[..., Server], connect: Connect
) -> None:
    server = shared("--sync-timeout", "0.5s")
    client = connect(server.token, server.url)
    assert client.infer("echo", {"delay_s": 1.5}) == {"echo": {"delay_s": 1.5}}


def test_token_order_inferq_then_octoai(
    echo_server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCTOAI_TOKEN", echo_server.token)
    assert connect(base_url=echo_server.url).infer("echo", {"t": 1}) == {"echo": {"t": 1}}
    monkeypatch.setenv("INFERQ_TOKEN", "wrong")
    with pytest.raises(Unauthorized):
        connect(base_url=echo_server.url).infer("echo", {"t": 2})
    monkeypatch.setenv("INFERQ_TOKEN", echo_server.token)
    monkeypatch.setenv("OCTOAI_TOKEN", "wrong")
    assert connect(base_url=echo_server.url).infer("echo", {"t": 3}) == {"echo": {"t": 3}}


def test_token_argument_beats_the_environment(
    echo_server: Server, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFERQ_TOKEN", "wrong")
    monkeypatch.setenv("OCTOAI_TOKEN", "wrong")
    monkeypatch.setenv("INFERQ_BASE_URL", echo_server.url)
    assert connect(echo_server.token).infer("echo", {"t": 4}) == {"echo": {"t": 4}}
    with pytest.raises(Unauthorized):
        connect().infer("echo", {"t": 5})


def test_errors_come_back_as_their_classes(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    with pytest.raises(InvalidInput) as invalid:
        client.infer_async("echo", {"delay_s": -1})
    assert invalid.value.details["field"] == "delay_s"
    with pytest.raises(NotFound):
        client.infer("nope", {})
    with pytest.raises(NotFound):
        client.health_check(f"{echo_server.url}/nope/healthcheck", timeout=30)


def test_health_check_returns_503_at_its_deadline(shared: Callable[..., Server], connect: Connect) -> None:
    server = shared("--no-workers")
    client = connect(server.token)
    assert client.health_check(f"{server.url}/echo/healthcheck", timeout=0.3) == 503


def test_a_model_that_raises_fails_its_future(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("raises", {"x": 1})
    with pytest.raises(InferenceFailed, match="model exploded"):
        wait_until(lambda: client.is_future_ready(future), what="the future to fail")
    with pytest.raises(InferenceFailed, match="model exploded"):
        client.get_future_result(future)
    with pytest.raises(InferenceFailed, match="model exploded"):
        client.infer("raises", {"y": 2})


def test_cancel_a_pending_request(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    with echo_server.http() as http:
        occupy(http, 1)  # holds the only worker
    queued = client.infer_async("echo", {"x": 1})
    client.cancel(queued)
    client.cancel(queued)  # cancelling twice is harmless
    with pytest.raises(RequestCancelled):
        client.is_future_ready(queued)
    with pytest.raises(RequestCancelled):
        client.get_future_result(queued)
    with pytest.raises(RequestCancelled):
        client.wait(queued, timeout=30)


def test_cancel_after_completion_is_a_conflict(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    future = client.infer_async("echo", {"x": 1})
    client.wait(future, timeout=30)
    with pytest.raises(Conflict):
        client.cancel(future)


def test_the_same_idempotency_key_yields_one_request(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    key = str(uuid.uuid4())
    first = client.infer_async("echo", {"x": 1}, idempotency_key=key)
    again = client.infer_async("echo", {"x": 1}, idempotency_key=key)
    assert again.response_id == first.response_id
    with echo_server.http() as http:
        listed = http.get("/v1/requests").json()["results"]
    assert [r["response_id"] for r in listed] == [first.response_id]
    with pytest.raises(Conflict):
        client.infer_async("echo", {"x": 2}, idempotency_key=key)


def test_every_submit_gets_its_own_key(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    first = client.infer_async("echo", {"same": True})
    second = client.infer_async("echo", {"same": True})
    assert first.response_id != second.response_id
