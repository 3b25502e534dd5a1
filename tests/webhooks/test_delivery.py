"""Webhook deliveries: signed per Standard Webhooks, for the events asked for, retried until
the receiver takes them, and kept in the store across a crash of the whole server."""

from __future__ import annotations

import itertools
import signal
import socket
import threading
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferq.policy import WEBHOOK_TIMEOUT_S
from inferq.webhooks.deliverer import PER_TENANT_IN_FLIGHT
from tests.conftest import Server, occupy, wait_until
from tests.shared_servers import FAST_RETRIES, LOOPBACK
from tests.webhooks.conftest import deliveries, secret, settled, submit
from tests.webhooks.receiver import Receiver


def test_a_completed_request_delivers_one_verified_post(hook_server: Server, receiver: Receiver) -> None:
    with hook_server.http() as http:
        key = secret(http)
        accepted = submit(http, receiver.url, {"hello": "world"})
        [post] = receiver.wait_for(1)
        log = settled(http, accepted["response_id"])
        status = http.get(accepted["poll_url"]).json()
    event = post.verified(key)
    assert accepted["webhook"] == receiver.url
    assert status["webhook"] == receiver.url
    assert event["type"] == "request.completed"
    assert event["data"]["response_id"] == accepted["response_id"]
    assert event["data"]["status"] == "completed"
    assert event["data"]["output"] == {"echo": {"hello": "world"}}
    assert event["timestamp"] == status["completed_at"]
    assert post.headers["webhook-id"].startswith("msg_")
    assert post.headers["content-type"] == "application/json"
    assert post.headers["user-agent"].startswith("inferq-webhooks/")
    assert [(d["event"], d["state"], d["webhook_id"]) for d in log] == [
        ("completed", "delivered", post.headers["webhook-id"])
    ]
    assert len(receiver.posts) == 1  # the default filter sends no "started" event


def test_start_in_the_filter_sends_a_started_event_too(hook_server: Server, receiver: Receiver) -> None:
    with hook_server.http() as http:
        key = secret(http)
        accepted = submit(http, receiver.url, webhook_events_filter="start,completed")
        posts = receiver.wait_for(2)
        log = settled(http, accepted["response_id"], 2)
    events = {post.verified(key)["type"]: post.headers["webhook-id"] for post in posts}
    assert set(events) == {"request.started", "request.completed"}
    assert len(set(events.values())) == 2
    assert sorted(d["event"] for d in log) == ["completed", "start"]


def test_a_cancelled_request_reports_its_end_as_completed(hook_server: Server, receiver: Receiver) -> None:
    with hook_server.http() as http:
        key = secret(http)
        occupy(http, 2)  # keeps the only worker busy
        accepted = submit(http, receiver.url)
        http.post(f"{accepted['poll_url']}/cancel")
        [post] = receiver.wait_for(1)
    event = post.verified(key)
    assert event["type"] == "request.completed"
    assert event["data"]["status"] == "cancelled"
    assert "output" not in event["data"]


def test_a_receiver_failing_twice_gets_it_on_the_third_attempt(
    hook_server: Server, receiver: Receiver
) -> None:
    admin_token = hook_server.new_token("ops", admin=True)
    with hook_server.http(token=admin_token) as admin:
        counted_before = _deliveries_counted(admin)
    receiver.fail_next(2)
    with hook_server.http() as http:
        key = secret(http)
        accepted = submit(http, receiver.url)
        [delivered] = receiver.wait_for(1)
        [entry] = settled(http, accepted["response_id"])
    assert [post.answered for post in receiver.posts] == [500, 500, 204]
    assert {post.headers["webhook-id"] for post in receiver.posts} == {entry["webhook_id"]}
    assert delivered.verified(key)["type"] == "request.completed"
    assert entry["state"] == "delivered"
    assert [a["status_code"] for a in entry["attempts"]] == [500, 500, 204]
    assert [a["error"] for a in entry["attempts"]] == ["the receiver answered 500"] * 2 + [None]
    assert entry["next_attempt_at"] is None
    with hook_server.http(token=admin_token) as admin:
        counted = _deliveries_counted(admin)
    added = {result: counted[result] - counted_before.get(result, 0.0) for result in counted}
    assert (added["retrying"], added["delivered"]) == (2, 1)


def _deliveries_counted(admin: httpx.Client) -> dict[str, float]:
    """``inferq_webhook_deliveries_total`` by result, from ``/metrics`` (the shared server's
    totals: the test counts what it added)."""
    answer = admin.get("/metrics")
    assert answer.status_code == 200
    return {
        sample.labels["result"]: sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
        if sample.name == "inferq_webhook_deliveries_total"
    }


def test_a_delivery_survives_a_killed_server(serve: Callable[..., Server]) -> None:
    """The receiver is down, the server is killed with SIGKILL mid-retries; after a restart
    the same delivery (same webhook-id) still arrives."""
    server = serve(*LOOPBACK, *FAST_RETRIES)
    receiver = Receiver()  # its port is known, nothing listens on it yet
    with server.http() as http:
        accepted = submit(http, receiver.url)
        response_id = accepted["response_id"]
        [before] = wait_until(
            lambda: [d for d in deliveries(http, response_id) if d["attempts"] and d["state"] == "pending"],
            what="a failed attempt with a retry scheduled",
        )
    assert before["attempts"][0]["status_code"] is None
    assert before["attempts"][0]["error"]
    server.kill_tree(signal.SIGKILL)
    receiver.start()
    try:
        server.start(wait_for=("echo",))
        [post] = receiver.wait_for(1, timeout=90)  # past a lease the killed gateway may have held
        with server.http() as http:
            [after] = settled(http, response_id)
            key = secret(http)
    finally:
        receiver.stop()
    assert post.headers["webhook-id"] == before["webhook_id"]
    assert post.verified(key)["data"]["response_id"] == response_id
    assert after["state"] == "delivered"
    assert len(after["attempts"]) > len(before["attempts"])


class Trickler:
    """A receiver that answers one byte every second, never finishing its headers: it
    passes every per-read timeout."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"
        self.stopped = threading.Event()
        #: Connections it holds open now.
        self.connections = 0
        self._lock = threading.Lock()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with self._lock:
            self.connections += 1
        try:
            with conn:
                for byte in itertools.cycle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100):
                    if self.stopped.wait(1.0):
                        return
                    try:
                        conn.sendall(bytes([byte]))
                    except OSError:
                        return
        finally:
            with self._lock:
                self.connections -= 1

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join()
        self.sock.close()


def test_a_receiver_that_trickles_its_answer_is_cut_at_the_attempt_s_deadline(hook_server: Server) -> None:
    trickler = Trickler()
    try:
        with hook_server.http() as http:
            accepted = submit(http, trickler.url)

            def first_attempt() -> dict[str, Any] | None:
                log = deliveries(http, accepted["response_id"])
                return log[0]["attempts"][0] if log and log[0]["attempts"] else None

            attempt = wait_until(first_attempt, 30, "the first attempt recorded")
        assert attempt["status_code"] is None
        assert attempt["error"] == f"no answer within {WEBHOOK_TIMEOUT_S:g} s"
    finally:
        trickler.stop()


def test_one_tenants_slow_receivers_leave_other_tenants_a_sending_slot(
    serve: Callable[..., Server], receiver: Receiver
) -> None:
    """Tenant A's receivers trickle, each holding a slot for the attempt's whole deadline, and A
    has more of them than the gateway sends at once: B's webhook still goes out at once."""
    server = serve(*LOOPBACK, *FAST_RETRIES)
    other = server.new_token("other tenant")
    trickler = Trickler()
    try:
        with server.http() as alice, server.http(token=other) as bob:
            slow = [submit(alice, trickler.url)["response_id"] for _ in range(40)]
            wait_until(lambda: trickler.connections >= PER_TENANT_IN_FLIGHT, 30, "A's receivers to be busy")
            theirs = submit(bob, receiver.url)
            [post] = receiver.wait_for(1)
            untried = [rid for rid in slow if not deliveries(alice, rid)[0]["attempts"]]
            event = post.verified(secret(bob))
        assert event["data"]["response_id"] == theirs["response_id"]
        assert len(untried) >= 40 - 2 * PER_TENANT_IN_FLIGHT, "B's went out while A's backlog waited"
        assert trickler.connections == PER_TENANT_IN_FLIGHT, "A holds its share of the slots, no more"
    finally:
        trickler.stop()
