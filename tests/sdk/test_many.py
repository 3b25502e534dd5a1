"""Thousands of futures from one client: batch submits and one wait stream, not a call each."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inferq import Client, InferenceFuture, InvalidInput, as_completed
from tests.conftest import Server
from tests.sdk.conftest import Api

Connect = Callable[..., Api]
COUNT = 2500


def test_thousands_of_futures_are_submitted_in_batches_and_collected_as_they_end(
    echo_server: Server, connect: Connect
) -> None:
    client = connect(echo_server.token, echo_server.url)
    futures = client.infer_batch("echo", [{"i": i} for i in range(COUNT)])
    done = client.as_completed(futures, timeout=300)
    assert len(futures) == COUNT and len({f.response_id for f in futures}) == COUNT
    assert sorted(f.response_id for f in done) == sorted(f.response_id for f in futures)
    assert [client.result(futures[i]) for i in (0, 1234, COUNT - 1)] == [
        {"echo": {"i": 0}},
        {"echo": {"i": 1234}},
        {"echo": {"i": COUNT - 1}},
    ]


def test_a_batch_to_a_predict_url_and_a_bad_input_named_by_index(
    echo_server: Server, connect: Connect
) -> None:
    client = connect(echo_server.token, echo_server.url)
    futures = client.infer_batch(f"{echo_server.url}/echo/predict", [{"a": 1}, {"b": 2}])
    assert [client.result(f, timeout=30) for f in futures] == [{"echo": {"a": 1}}, {"echo": {"b": 2}}]
    with pytest.raises(InvalidInput) as raised:
        client.infer_batch("echo", [{"ok": 1}, {"delay_s": "slow"}])
    assert raised.value.details["field"] == "inputs[1].delay_s"


def test_the_collection_makes_a_handful_of_calls(echo_server: Server) -> None:
    calls: list[str] = []
    with Client(token=echo_server.token, base_url=echo_server.url) as client:
        client._http.event_hooks["request"].append(
            lambda request: calls.append(f"{request.method} {request.url.path}")
        )
        futures = client.infer_batch("echo", [{"i": i} for i in range(COUNT)])
        assert len(list(client_as_completed(futures))) == COUNT
        outputs = [future.result() for future in futures]  # carried by the wait stream
    assert outputs == [{"echo": {"i": i}} for i in range(COUNT)]
    submits = [call for call in calls if call == "POST /echo/batch"]
    waits = [call for call in calls if call == "POST /v1/requests/wait"]
    assert len(submits) == 3
    assert 1 <= len(waits) <= 3
    assert len(calls) == len(submits) + len(waits)


def client_as_completed(futures: list[InferenceFuture]) -> list[InferenceFuture]:
    return list(as_completed(futures, timeout=300))
