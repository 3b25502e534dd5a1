"""Retries and reuse through the SDK, with both clients: ``retry`` and ``retry_many`` make
new requests that name their originals, and ``reuse=True`` answers from a completed twin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from inferq import Conflict, InferenceFailed, NotFound
from tests.conftest import Server
from tests.sdk.conftest import Api
from tests.sdk.test_scheduling_options import status

Connect = Callable[..., Api]


def test_retry_runs_a_failed_request_again_as_a_new_one(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    failed = client.infer_async("raises", {"a": 1})
    with pytest.raises(InferenceFailed):
        client.wait(failed, timeout=30)
    again = client.retry(failed, priority="low")
    assert again.response_id != failed.response_id
    with pytest.raises(InferenceFailed, match="model exploded on \\['a'\\]"):
        client.wait(again, timeout=30)
    state = status(echo_server, again.response_id)
    assert (state["retry_of"], state["priority"]) == (failed.response_id, "low")
    assert status(echo_server, failed.response_id)["retried_by"] == again.response_id
    done = client.infer_async("echo", {"n": 1})
    client.wait(done, timeout=30)
    with pytest.raises(Conflict, match="only a failed or cancelled request"):
        client.retry(done)


def test_retry_many_maps_each_id_to_its_retry_or_its_error(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    failed = [client.infer_async("raises", {"b": n}) for n in range(2)]
    for future in failed:
        with pytest.raises(InferenceFailed):
            client.wait(future, timeout=30)
    ids = [failed[0].response_id, "nope"]
    retried = client.retry_many(ids)
    assert isinstance(retried["nope"], NotFound)
    assert status(echo_server, retried[ids[0]].response_id)["retry_of"] == ids[0]
    with pytest.raises(InferenceFailed):
        client.wait(retried[ids[0]], timeout=30)
    by_filter = client.retry_many(
        status="failed", endpoint="raises", since=datetime.now(UTC) - timedelta(hours=1)
    )
    assert set(by_filter) == {failed[1].response_id, retried[ids[0]].response_id}  # not those retried already
    with pytest.raises(ValueError, match="aware datetime"):
        client.retry_many(since=datetime.now())  # a naive datetime


def test_reuse_answers_from_a_completed_twin(echo_server: Server, connect: Connect) -> None:
    client = connect(echo_server.token, echo_server.url)
    first = client.infer_async("echo", {"k": 1})
    client.wait(first, timeout=30)
    reused = client.infer_async("echo", {"k": 1}, reuse=True)
    assert status(echo_server, reused.response_id)["reused_from"] == first.response_id
    assert client.infer("echo", {"k": 1}, reuse=True) == {"echo": {"k": 1}}
    assert client.wait(reused, timeout=30) == {"echo": {"k": 1}}
