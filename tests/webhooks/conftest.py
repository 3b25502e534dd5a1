"""Fixtures of the webhook tests: a receiver on loopback, a server allowed to reach it, and
the calls every test makes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, wait_until
from tests.webhooks.receiver import Receiver

ASYNC = {"X-OctoAI-Async": "1"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def hook_server(echo_server: Server) -> Server:
    """The shared echo server: it may deliver webhooks to loopback, retrying within seconds.

    A test on it leaves no delivery to retry behind (its receiver stops with it), so that
    no other test's receiver or count sees it.
    """
    return echo_server


def submit(
    http: httpx.Client, webhook: str, inputs: dict[str, Any] | None = None, **params: str
) -> dict[str, Any]:
    """An asynchronous echo submit with a webhook; its 202 body."""
    answer = http.post(
        "/echo/predict", params={"webhook": webhook, **params}, json=inputs or {"x": 1}, headers=ASYNC
    )
    assert answer.status_code == 202, answer.text
    body: dict[str, Any] = answer.json()
    return body


def deliveries(http: httpx.Client, response_id: str) -> list[dict[str, Any]]:
    """The request's delivery log."""
    answer = http.get(f"/v1/requests/{response_id}/webhooks")
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def settled(http: httpx.Client, response_id: str, count: int = 1) -> list[dict[str, Any]]:
    """The log once it holds ``count`` deliveries and none is pending any more."""

    def done() -> list[dict[str, Any]] | None:
        log = deliveries(http, response_id)
        return log if len(log) >= count and all(d["state"] != "pending" for d in log) else None

    return wait_until(done, 60, f"{count} deliveries of {response_id} to settle")


def secret(http: httpx.Client) -> str:
    key: str = http.get("/v1/webhooks/secret").json()["key"]
    return key
