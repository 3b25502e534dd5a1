"""Redis-only behaviours: Redis itself going away (in process, through the backend's contract,
and through HTTP), and, against real ``inferq serve`` and ``inferq worker`` processes,
workers on other machines, several gateways and retention as key expiry.

Skipped (visibly) when no Redis answers on 127.0.0.1:6379; the tests of Redis going away
need ``redis-server`` on PATH, because they start and kill a Redis of their own.
"""

from __future__ import annotations

import asyncio
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferq.backends import Backend, BackendUnavailable, WorkerInfo, open_backend
from inferq.domain.records import Claim, RequestRecord, Submission
from inferq.domain.status import Status
from inferq.domain.webhooks import DeliveryState, WebhookAttempt, WebhookLease
from tests.backends.helpers import POLICY
from tests.backends.stores import unavailable
from tests.conftest import Server, free_port, occupy, wait_until
from tests.redis_server import RedisServer
from tests.servers import REDIS_URL
from tests.store import stored_bytes

redis = pytest.importorskip("redis")

ASYNC = {"X-OctoAI-Async": "1"}

pytestmark = pytest.mark.skipif(unavailable("redis") is not None, reason=unavailable("redis") or "")
#: The HTTP tests' ``serve`` fixture runs on the Redis backend only.
ON_REDIS = pytest.mark.parametrize("backend_url", ["redis"], indirect=True)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``inferq worker`` processes, as on other machines; every one is stopped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(backend: str, *args: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"worker-{len(procs)}.log").open("ab") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "inferq", "worker", "--backend", backend, "--endpoint", "echo", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@ON_REDIS
def test_a_worker_killed_mid_request_is_finished_by_another_worker(
    serve: Callable[..., Server], backend_url: str, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    gateway = serve("--no-workers", "--lease", "1s", backend=backend_url, wait_for=())
    doomed, survivor = start_worker(backend_url, "--lease", "1s"), start_worker(backend_url, "--lease", "1s")
    gateway.wait_ready("echo")
    with gateway.http() as http:
        futures = [
            http.post("/echo/predict", json={"delay_s": 2, "i": i}, headers=ASYNC).json() for i in range(2)
        ]

        def both_running() -> bool:
            return all(http.get(f["poll_url"]).json()["status"] == "running" for f in futures)

        wait_until(both_running, what="each worker to run one request")
        doomed.send_signal(signal.SIGKILL)
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [http.get(s["response_url"]).json() for s in states]
    assert [s["status"] for s in states] == ["completed", "completed"]
    assert outputs == [{"echo": {"delay_s": 2, "i": i}} for i in range(2)]
    assert sorted(s["attempts"] for s in states) == [1, 2]  # the killed worker's request ran again
    assert survivor.poll() is None


@ON_REDIS
def test_two_gateways_share_one_redis_and_a_long_poll_on_either_wakes_on_completion(
    serve: Callable[..., Server], backend_url: str, start_worker: Callable[..., subprocess.Popen[bytes]]
) -> None:
    submit_on = serve("--no-workers", backend=backend_url, wait_for=())
    poll_on = serve("--no-workers", backend=backend_url, wait_for=())
    start_worker(backend_url)
    poll_on.wait_ready("echo")
    with submit_on.http() as a, poll_on.http(token=submit_on.token) as b:
        accepted = a.post("/echo/predict", json={"delay_s": 1, "via": "a"}, headers=ASYNC).json()
        response_id = accepted["response_id"]
        started = time.monotonic()
        state = b.get(f"/v1/requests/{response_id}", params={"wait": 30}).json()
        waited = time.monotonic() - started
        output = b.get(f"/v1/requests/{response_id}/response")
    assert state["status"] == "completed"
    assert state["response_url"].startswith(poll_on.url)
    assert waited < 10, f"the long poll took {waited:.1f} s: it slept instead of waking on completion"
    assert output.json() == {"echo": {"delay_s": 1, "via": "a"}}


@ON_REDIS
def test_after_retention_no_key_holds_anything_of_the_request(
    serve: Callable[..., Server], backend_url: str
) -> None:
    server = serve("--retention", "2s", backend=backend_url)
    marker = f"secret-{secrets.token_hex(8)}"
    with server.http() as http:
        occupy(http, 1)
        cancelled = http.post("/echo/predict", json={"m": f"{marker}-x"}, headers=ASYNC).json()
        http.post(f"{cancelled['poll_url']}/cancel").raise_for_status()
        futures = [
            http.post(
                "/echo/predict",
                json={"m": f"{marker}-{i}"},
                headers={**ASYNC, "Idempotency-Key": f"{marker}-key-{i}"},
            ).json()
            for i in range(5)
        ]
        for future in futures:
            state = http.get(future["poll_url"], params={"wait": 30}).json()
            assert marker in http.get(state["response_url"]).text
        needles = [marker.encode()] + [f["response_id"].encode() for f in [*futures, cancelled]]

        def leftovers() -> list[bytes]:
            """The needles that some key's name or value under the prefix still holds."""
            held = stored_bytes(backend_url)
            return [needle for needle in needles if needle in held]

        assert leftovers()  # the check can see the data while it is retained
        wait_until(
            lambda: all(http.get(f["poll_url"]).status_code == 404 for f in [*futures, cancelled]),
            30,
            "retention to delete the requests",
        )
        gone = http.get(futures[0]["poll_url"]).json()["error"]
        listed = http.get("/v1/requests").json()["results"]
    wait_until(lambda: not leftovers(), 10, "no key to hold anything of the expired requests")
    assert gone["type"] == "expired"
    assert listed == []


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not on PATH")
    server = RedisServer(tmp_path / "redis")
    server.directory.mkdir()
    yield server.start()
    server.kill()


def _every_operation(backend: Backend) -> dict[str, Callable[[], Awaitable[object]]]:
    """One call of each public operation of the backend, by name."""
    record = RequestRecord("rid", "tok_a", "echo", Status.RUNNING, 0.0, 0.0)
    claim = Claim(record, b"{}", "rid.lease")
    lease = WebhookLease("msg_x", "rid", "tok_a", "completed", "https://x", 0.0, 0, "lease")
    attempt = WebhookAttempt(0.0, 200, None, 1.0)
    worker = WorkerInfo("w", "echo", True)
    submission = Submission("tok_a", "echo", b"{}")
    return {
        "enqueue": lambda: backend.enqueue(submission),
        "enqueue_many": lambda: backend.enqueue_many([submission]),
        "get": lambda: backend.get("tok_a", "rid"),
        "get_many": lambda: backend.get_many("tok_a", ["rid"]),
        "get_output": lambda: backend.get_output("tok_a", "rid"),
        "get_outputs": lambda: backend.get_outputs("tok_a", ["rid"]),
        "owner": lambda: backend.owner("rid"),
        "wait": lambda: backend.wait("tok_a", "rid", 1),
        "list_requests": lambda: backend.list_requests("tok_a"),
        "delete": lambda: backend.delete("tok_a", "rid"),
        "count_active": lambda: backend.count_active("tok_a", 10),
        "cancel": lambda: backend.cancel("tok_a", "rid"),
        "claim": lambda: backend.claim("echo", "w"),
        "heartbeat": lambda: backend.heartbeat(worker, ["rid.lease"]),
        "report_progress": lambda: backend.report_progress(claim, 0.5),
        "complete": lambda: backend.complete(claim, b"{}"),
        "fail": lambda: backend.fail(claim, "inference_failed", "boom"),
        "remove_worker": lambda: backend.remove_worker("w"),
        "endpoint_ready": lambda: backend.endpoint_ready("echo"),
        "setup_error": lambda: backend.setup_error("echo"),
        "release_worker": lambda: backend.release_worker("w", "exited"),
        "endpoint_stats": lambda: backend.endpoint_stats("echo"),
        "endpoint_totals": lambda: backend.endpoint_totals("echo"),
        "reap_leases": lambda: backend.reap_leases(),
        "expire": lambda: backend.expire(0.0),
        "webhook_secret": lambda: backend.webhook_secret("tok_a"),
        "claim_webhooks": lambda: backend.claim_webhooks(10),
        "record_webhook_attempt": lambda: backend.record_webhook_attempt(
            lease, attempt, DeliveryState.DELIVERED, None
        ),
        "webhook_log": lambda: backend.webhook_log("tok_a", "rid"),
        "redeliver_webhook": lambda: backend.redeliver_webhook("tok_a", "rid"),
        "create_token": lambda: backend.create_token("ci"),
        "list_tokens": lambda: backend.list_tokens(),
        "revoke_token": lambda: backend.revoke_token("tok_x"),
        "authenticate": lambda: backend.authenticate("iq_x"),
    }


@pytest.mark.anyio
async def test_a_redis_that_does_not_answer_is_backend_unavailable_naming_it() -> None:
    port = free_port()
    backend = open_backend(f"redis://127.0.0.1:{port}/0?prefix=iqtest", POLICY)
    try:
        with pytest.raises(BackendUnavailable, match=f"Redis at 127.0.0.1:{port}"):
            await asyncio.wait_for(backend.start(), 15)
    finally:
        await backend.close()


@pytest.mark.anyio
async def test_while_redis_is_down_every_operation_raises_backend_unavailable_then_recovers(
    private_redis: RedisServer,
) -> None:
    """Bounded waits (15 s each) only keep a hang from stalling the run; the calls fail at once."""
    backend = open_backend(private_redis.url, POLICY)
    await backend.start()
    try:
        accepted, _ = await backend.enqueue(Submission("tok_a", "echo", b'{"kept":1}'))
        private_redis.kill()
        answers = {}
        for name, call in _every_operation(backend).items():
            try:
                await asyncio.wait_for(call(), 15)
            except BackendUnavailable as exc:
                answers[name] = "unavailable" if "Redis" in str(exc) else str(exc)
            except Exception as exc:  # noqa: BLE001 - named in the assertion below
                answers[name] = repr(exc)
            else:
                answers[name] = "answered"
        assert answers == dict.fromkeys(answers, "unavailable")
        private_redis.start()
        kept = await asyncio.wait_for(backend.get("tok_a", accepted.response_id), 15)
        assert kept.response_id == accepted.response_id
    finally:
        await backend.close()


def _while_down(server: Server) -> list[tuple[int, Any, float]]:
    """Call every kind of route once: (status, JSON body, seconds) of each; status 0 when the
    gateway dropped the connection. A call that hangs fails the test."""
    answers: list[tuple[int, Any, float]] = []
    headers = {"Authorization": f"Bearer {server.token}", **ASYNC}
    for method, path in [
        ("GET", "/v1/requests"),
        ("POST", "/echo/predict"),
        ("GET", "/echo/healthcheck"),
        ("GET", "/v1/requests/abc"),
    ]:
        started = time.monotonic()
        try:
            answer = httpx.request(
                method,
                server.url + path,
                json={"x": 1} if method == "POST" else None,
                headers=headers,
                timeout=15,
            )
        except httpx.TimeoutException:
            pytest.fail(f"{method} {path} hung while Redis was down")
        except httpx.TransportError:
            answers.append((0, None, time.monotonic() - started))
        else:
            is_json = answer.headers.get("content-type", "").startswith("application/json")
            body = answer.json() if is_json else answer.text
            answers.append((answer.status_code, body, time.monotonic() - started))
    return answers


@ON_REDIS
def test_while_redis_is_down_every_call_answers_503_at_once(
    private_redis: RedisServer,
    serve: Callable[..., Server],  # the server stops before its Redis
) -> None:
    server = serve(backend=private_redis.url)
    private_redis.kill()
    answers = _while_down(server)
    assert [status for status, _, _ in answers] == [503] * len(answers), answers
    assert all(body["error"]["type"] == "unavailable" for _, body, _ in answers)
    assert all("Redis" in body["error"]["message"] for _, body, _ in answers)
    assert max(seconds for _, _, seconds in answers) < 5


@ON_REDIS
def test_after_a_redis_crash_and_restart_the_gateway_recovers_and_accepted_requests_complete(
    private_redis: RedisServer,
    serve: Callable[..., Server],  # the server stops before its Redis
) -> None:
    server = serve("--lease", "2s", backend=private_redis.url)
    with server.http() as http:
        futures = [
            http.post("/echo/predict", json={"delay_s": 0.5, "i": i}, headers=ASYNC).json() for i in range(4)
        ]
        private_redis.kill()
        _while_down(server)
        noticed = ("heartbeat failed", "exited with")  # the worker keeps trying, or its supervisor does
        wait_until(
            lambda: any(n in server.log() for n in noticed), 20, "the worker to notice that Redis is gone"
        )
        private_redis.start()
        wait_until(
            lambda: http.get("/v1/requests").status_code == 200, 30, "the gateway to recover by itself"
        )
        states = [http.get(f["poll_url"], params={"wait": 60}).json() for f in futures]
        outputs = [http.get(s["response_url"]).json() for s in states]
        # the notifications work again: a long poll wakes on completion, not at its end
        later = http.post("/echo/predict", json={"delay_s": 0.5}, headers=ASYNC).json()
        started = time.monotonic()
        assert http.get(later["poll_url"], params={"wait": 30}).json()["status"] == "completed"
        waited = time.monotonic() - started
    assert [s["status"] for s in states] == ["completed"] * 4
    assert outputs == [{"echo": {"delay_s": 0.5, "i": i}} for i in range(4)]
    assert waited < 10, f"the long poll took {waited:.1f} s after the restart"


@pytest.mark.anyio
async def test_a_redis_that_lost_its_scripts_is_given_them_again(private_redis: RedisServer) -> None:
    """A Redis restarted without persistence, or flushed, holds none of the scripts: calls
    that send many at once (a batch submit, a batched claim) load theirs again and run."""
    backend = open_backend(private_redis.url, POLICY)
    await backend.start()
    raw = redis.Redis.from_url(private_redis.url.partition("?")[0])
    try:
        raw.script_flush()
        stored = await backend.enqueue_many([Submission("tok_a", "echo", b'{"i":%d}' % i) for i in range(3)])
        raw.script_flush()
        claims = await backend.claim("echo", "w", 3)
        assert [c.record.response_id for c in claims] == [record.response_id for record, _ in stored]
        assert [c.inputs for c in claims] == [b'{"i":%d}' % i for i in range(3)]
    finally:
        raw.close()
        await backend.close()


@pytest.mark.anyio
async def test_deliveries_an_earlier_version_queued_in_one_set_are_still_claimed() -> None:
    """Before deliveries waited per tenant, they waited in one due set; a store written then
    still delivers them."""
    prefix = f"iqtest-{secrets.token_hex(4)}"
    backend = open_backend(f"{REDIS_URL}?prefix={prefix}", POLICY)
    await backend.start()
    raw = redis.Redis.from_url(REDIS_URL)
    try:
        submission = Submission(
            "tok_alice", "echo", b"{}", webhook="https://example.com/h", webhook_events=("completed",)
        )
        record, _ = await backend.enqueue(submission)
        await backend.cancel("tok_alice", record.response_id)
        [webhook_id] = raw.zrange(f"{prefix}:tenanthooks:tok_alice", 0, -1)
        raw.delete(f"{prefix}:tenanthooks:tok_alice", f"{prefix}:hooktenants")
        raw.zadd(f"{prefix}:hookdue", {webhook_id: 1.0})  # where an earlier version kept it
        [lease] = await backend.claim_webhooks(10)
        assert (lease.webhook_id, lease.response_id) == (webhook_id.decode(), record.response_id)
        assert raw.zcard(f"{prefix}:hookdue") == 0
    finally:
        await backend.close()
        for key in raw.scan_iter(f"{prefix}:*"):
            raw.delete(key)
        raw.close()
