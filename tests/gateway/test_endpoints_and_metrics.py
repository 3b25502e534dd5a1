"""``GET /v1/endpoints`` and ``GET /metrics``: workers, the queue and the totals, on both backends.

``/metrics`` sums over every tenant, so it is for admin tokens; ``/v1/endpoints`` (queue and
workers, no tenant's data) is open to every token.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from inferq.backends.sqlite import SQLiteBackend
from inferq.gateway.app import create_app
from inferq.service.loader import BUILTIN_ENDPOINTS
from inferq.settings import Settings
from tests.conftest import SERVICES, Server, occupy, wait_until

ASYNC = {"X-OctoAI-Async": "1"}


def _endpoint(http: httpx.Client, name: str) -> dict[str, Any]:
    listing = http.get("/v1/endpoints")
    assert listing.status_code == 200
    return next(entry for entry in listing.json()["endpoints"] if entry["name"] == name)


def _scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of ``/metrics``, by name and labels, scraped as Prometheus would: with an admin token."""
    with server.http(token=server.new_token("prometheus", admin=True)) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def _value(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_endpoints_show_the_ready_worker_and_the_requests_waiting_for_it(echo_server: Server) -> None:
    with echo_server.http() as http:
        busy = http.post("/echo/predict", json={"delay_s": 4}, headers=ASYNC).json()
        wait_until(
            lambda: http.get(busy["poll_url"]).json()["status"] == "running", 10, "the worker to start"
        )
        for i in range(2):
            http.post("/echo/predict", json={"i": i}, headers=ASYNC)
        first = _endpoint(http, "echo")
        later = _endpoint(http, "echo")
    assert {key: value for key, value in first.items() if key != "oldest_pending_age_s"} == {
        "name": "echo",
        "ready": True,
        "workers": 1,
        "ready_workers": 1,
        "pending": 2,
        "running": 1,
    }
    assert 0 < first["oldest_pending_age_s"] < later["oldest_pending_age_s"] < 10


def test_a_worker_loading_its_model_is_counted_but_not_ready(
    serve: Callable[..., Server], tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    server = serve(
        endpoints=f"slow={SERVICES / 'slow_setup.py'}:SlowSetup", wait_for=(), env={"SETUP_GATE": str(gate)}
    )
    with server.http() as http:
        loading = wait_until(lambda: (e := _endpoint(http, "slow"))["workers"] == 1 and e, 30, "a heartbeat")
        samples = _scrape(server)
        gate.touch()
        ready = wait_until(lambda: (e := _endpoint(http, "slow"))["ready"] and e, 30, "the model to load")
    assert (loading["ready"], loading["ready_workers"], loading["pending"]) == (False, 0, 0)
    assert loading["oldest_pending_age_s"] is None
    assert _value(samples, "inferq_workers", endpoint="slow") == 1
    assert _value(samples, "inferq_workers_ready", endpoint="slow") == 0
    assert (ready["workers"], ready["ready_workers"]) == (1, 1)


def test_metrics_count_each_submit_and_each_end_once(echo_server: Server) -> None:
    """Counted as differences: the shared server's totals hold other tests' requests too."""
    before = _scrape(echo_server)
    with echo_server.http() as http:
        for i in range(3):
            assert http.post("/echo/predict", json={"i": i}).status_code == 200
        key = {"Idempotency-Key": "once", **ASYNC}
        replayed = [http.post("/echo/predict", json={"k": 1}, headers=key).json() for _ in range(2)]
        held = occupy(http, 1)
        queued = http.post("/echo/predict", json={"q": 1}, headers=ASYNC).json()
        assert http.post(f"{queued['poll_url']}/cancel").status_code == 200
        for future in (replayed[0], held):
            assert http.get(future["poll_url"], params={"wait": 30}).json()["status"] == "completed"
        after = _scrape(echo_server)

    def value(name: str, **labels: str) -> float:
        return _value(after, name, endpoint="echo", **labels)

    def added(name: str, **labels: str) -> float:
        key = (name, frozenset({"endpoint": "echo", **labels}.items()))
        return value(name, **labels) - before.get(key, 0.0)

    assert added("inferq_requests_submitted_total") == 6  # the replay is the same request
    finished = {
        s: added("inferq_requests_finished_total", status=s) for s in ("completed", "failed", "cancelled")
    }
    assert finished == {"completed": 5, "failed": 0, "cancelled": 1}
    for histogram in ("inferq_queue_wait_seconds", "inferq_run_seconds", "inferq_end_to_end_seconds"):
        assert added(f"{histogram}_count") == 5  # the cancelled one never started
        assert added(f"{histogram}_bucket", le="+Inf") == 5
    assert added("inferq_run_seconds_sum") >= 1.0
    assert added("inferq_run_seconds_bucket", le="0.5") <= 4  # the held one ran for a second
    assert value("inferq_queue_depth") == value("inferq_requests_running") == 0
    assert value("inferq_workers_ready") == 1
    assert _value(after, "inferq_backend_up") == 1
    swept = ("inferq_retention_swept_total", frozenset())
    assert _value(after, "inferq_retention_swept_total") - before[swept] == 0


def test_endpoints_and_metrics_need_a_token_and_are_documented(echo_server: Server) -> None:
    with echo_server.anonymous() as anonymous:
        for path in ("/metrics", "/v1/endpoints"):
            assert anonymous.get(path).status_code == 401
            assert anonymous.get(path, headers={"Authorization": "Bearer iq_nope"}).status_code == 401
    with echo_server.http() as user:  # cross-tenant totals: admin tokens only
        refused = user.get("/metrics")
        assert (refused.status_code, refused.json()["error"]["type"]) == (403, "forbidden")
        assert user.get("/v1/endpoints").status_code == 200
        paths = user.get("/openapi.json").json()["paths"]
    assert {"/metrics", "/v1/endpoints"} <= set(paths)


def test_two_apps_in_one_process_have_their_own_metrics(tmp_path: Path) -> None:
    settings = Settings(endpoints={"echo": BUILTIN_ENDPOINTS["echo"]})
    apps = [create_app(settings, SQLiteBackend(f"sqlite:///{tmp_path / 'inferq.db'}")) for _ in range(2)]
    apps[0].state.metrics.submitted.labels("echo").inc()
    other = apps[1].state.metrics.registry
    assert other.get_sample_value("inferq_requests_submitted_total", {"endpoint": "echo"}) == 0


def test_workers_needed_sizes_the_backlog_by_the_measured_run_time(serve: Callable[..., Server]) -> None:
    """Known load: runs of about 0.3 s measured, then 12 requests waiting with no worker; with
    --target-wait 2s, the signal is ceil(12 x mean run / 2 s), and 0 once nothing waits."""
    measured = serve()
    with measured.http() as http:
        for _ in range(3):
            assert http.post("/echo/predict", json={"delay_s": 0.3}).status_code == 200
    measured.stop()
    gateway = serve("--no-workers", "--target-wait", "2s", backend=measured.backend, wait_for=())
    idle = _scrape(gateway)
    assert _value(idle, "inferq_workers_needed", endpoint="echo") == 0
    with gateway.http() as http:
        futures = [http.post("/echo/predict", json={"delay_s": 0.3}, headers=ASYNC).json() for _ in range(12)]
    loaded = _scrape(gateway)
    mean_run = _value(loaded, "inferq_run_seconds_sum", endpoint="echo") / _value(
        loaded, "inferq_run_seconds_count", endpoint="echo"
    )
    assert 0.3 <= mean_run < 1.0
    assert _value(loaded, "inferq_workers_needed", endpoint="echo") == math.ceil(12 * mean_run / 2)
    with gateway.http() as http:
        for future in futures:
            http.post(f"{future['poll_url']}/cancel")
    assert _value(_scrape(gateway), "inferq_workers_needed", endpoint="echo") == 0
