"""Asking for a webhook: the query parameters of an asynchronous submit, and the SDK's."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from inferq import AsyncClient, Client, InvalidInput
from tests.conftest import Server
from tests.webhooks.conftest import ASYNC, secret, settled
from tests.webhooks.receiver import Receiver


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"webhook": "not a url"}, "webhook"),
        ({"webhook": "/relative/path"}, "webhook"),
        ({"webhook": "ftp://example.com/hook"}, "webhook"),
        ({"webhook": ""}, "webhook"),
        ({"webhook": "http://example.com/" + "a" * 3000}, "webhook"),
        ({"webhook": "http://example.com/hook", "webhook_events_filter": "done"}, "webhook_events_filter"),
        ({"webhook": "http://example.com/hook", "webhook_events_filter": ""}, "webhook_events_filter"),
        ({"webhook_events_filter": "completed"}, "webhook_events_filter"),
    ],
    ids=[
        "not-a-url",
        "relative",
        "ftp",
        "empty",
        "too-long",
        "unknown-event",
        "empty-filter",
        "filter-alone",
    ],
)
def test_a_bad_webhook_or_filter_is_422_naming_it(
    hook_server: Server, params: dict[str, str], field: str
) -> None:
    with hook_server.http() as http:
        answer = http.post("/echo/predict", params=params, json={"x": 1}, headers=ASYNC)
        listed = http.get("/v1/requests").json()["results"]
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert listed == []  # nothing was queued


def test_a_webhook_on_a_synchronous_call_is_422(hook_server: Server, receiver: Receiver) -> None:
    with hook_server.http() as http:
        answer = http.post("/echo/predict", params={"webhook": receiver.url}, json={"x": 1})
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "webhook"
    assert "asynchronous" in answer.json()["error"]["message"]


@pytest.mark.parametrize("kind", ["Client", "AsyncClient"])
def test_the_sdk_asks_for_a_webhook(hook_server: Server, receiver: Receiver, kind: str) -> None:
    def submit(**options: Any) -> Any:
        if kind == "Client":
            with Client(token=hook_server.token, base_url=hook_server.url) as client:
                return client.infer_async("echo", {"x": 1}, **options)

        async def submit_async() -> Any:
            async with AsyncClient(token=hook_server.token, base_url=hook_server.url) as client:
                return await client.infer_async("echo", {"x": 1}, **options)

        return asyncio.run(submit_async())

    future = submit(webhook=receiver.url, webhook_events_filter=["start", "completed"])
    with pytest.raises(InvalidInput, match="webhook_events_filter"):
        submit(webhook=receiver.url, webhook_events_filter="finished")
    with hook_server.http() as http:
        key = secret(http)
        log = settled(http, future.response_id, 2)
    types = sorted(post.verified(key)["type"] for post in receiver.wait_for(2))
    assert types == ["request.completed", "request.started"]
    assert {d["state"] for d in log} == {"delivered"}
