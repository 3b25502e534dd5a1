"""Watching a gateway on the dashboard: endpoints with their workers and queue, the requests
list, one request's page with its timeline, and cancelling from that page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.conftest import SERVICES, Server
from tests.ui.conftest import open_section, sign_in

ASYNC = {"Prefer": "respond-async"}


def _gated(serve: Callable[..., Server], tmp_path: Path) -> tuple[Server, Path]:
    """echo, ready, beside ``slow``, whose model loads only once the returned gate file exists."""
    gate = tmp_path / "gate"
    server = serve(
        endpoints=f"echo,slow={SERVICES / 'slow_setup.py'}:SlowSetup",
        wait_for=("echo",),
        env={"SETUP_GATE": str(gate)},
    )
    return server, gate


def test_endpoints_show_their_health_workers_and_queue(
    serve: Callable[..., Server], tmp_path: Path, page: Page, screenshot: Callable[[str], None]
) -> None:
    server, gate = _gated(serve, tmp_path)
    with server.http() as http:
        for i in range(2):
            assert http.post("/slow/predict", json={"i": i}, headers=ASYNC).status_code == 202
    sign_in(page, server)
    echo = page.get_by_role("row").filter(has=page.get_by_role("link", name="echo", exact=True))
    slow = page.get_by_role("row").filter(has=page.get_by_role("link", name="slow", exact=True))
    headings = ["Endpoint", "Health", "Workers", "Queued", "Running", "Oldest queued", ""]
    expect(page.get_by_role("columnheader")).to_have_text(headings)
    expect(echo.get_by_role("cell")).to_have_text(["echo", "ready", "1 ready of 1", "0", "0", "—", "Try"])
    expect(slow.get_by_role("cell").nth(1)).to_contain_text("not ready")
    expect(slow.get_by_role("cell").nth(1)).to_contain_text("has no worker with its model loaded yet")
    expect(slow.get_by_role("cell").nth(2)).to_have_text("0 ready of 1")
    expect(slow.get_by_role("cell").nth(3)).to_have_text("2")
    expect(slow.get_by_role("cell").nth(5)).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d+ s$"))
    screenshot("loading")

    gate.touch()  # the model loads, the queue drains, and the page refreshes by itself
    expect(slow.get_by_role("cell")).to_have_text(["slow", "ready", "1 ready of 1", "0", "0", "—", "Try"])
    screenshot("ready")


def test_requests_list_and_a_request_page_with_its_timeline(
    echo_server: Server, page: Page, screenshot: Callable[[str], None]
) -> None:
    with echo_server.http() as http:
        ids = [
            http.post("/echo/predict", json={"n": n}, headers=ASYNC).json()["response_id"] for n in range(3)
        ]
        for response_id in ids:
            assert (
                http.get(f"/v1/requests/{response_id}", params={"wait": 30}).json()["status"] == "completed"
            )
    sign_in(page, echo_server)
    open_section(page, "Requests")
    rows = page.locator("#requests tbody tr")
    expect(rows.locator("td:first-child")).to_have_text(ids[::-1])  # newest first
    expect(rows.locator("td:nth-child(3)")).to_have_text(["completed"] * 3)
    expect(rows.first.locator("td").nth(6)).to_have_text(re.compile(r"^\d+ ms$|^\d+\.\d+ s$"))  # total time
    screenshot("list")

    page.get_by_label("Status").select_option("failed")
    expect(page).to_have_url(re.compile(r"#/requests\?status=failed$"))
    expect(rows).to_have_text(["No request matches these filters."])
    page.go_back()
    expect(rows).to_have_count(3)

    page.get_by_role("link", name=ids[0]).click()
    expect(page).to_have_url(re.compile(f"#/requests/{ids[0]}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Request {ids[0]} completed")
    steps = page.locator("ol.timeline li strong")
    expect(steps).to_have_text(["Created", "Started", "Completed"])
    expect(page.locator("ol.timeline li").nth(1)).to_contain_text("in the queue")
    expect(page.locator("ol.timeline li").nth(2)).to_contain_text("running")
    expect(page.locator("pre.output")).to_have_text('{\n  "echo": {\n    "n": 0\n  }\n}')
    expect(page.get_by_text("shown only for requests submitted from this tab")).to_be_visible()
    screenshot("request")
    page.go_back()
    expect(rows).to_have_count(3)


def test_cancel_a_queued_request_from_its_page(
    serve: Callable[..., Server], tmp_path: Path, page: Page, screenshot: Callable[[str], None]
) -> None:
    server, gate = _gated(serve, tmp_path)
    with server.http() as http:
        queued = http.post("/slow/predict", json={"x": 1}, headers=ASYNC).json()
    sign_in(page, server)
    page.goto(f"{server.url}/ui/#/requests/{queued['response_id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("pending")
    expect(page.locator("ol.timeline")).to_contain_text("next in line")
    screenshot("pending")
    page.get_by_role("button", name="Cancel request").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("cancelled")
    expect(page.locator("ol.timeline li strong")).to_have_text(["Created", "Cancelled"])
    expect(page.get_by_role("button", name="Cancel request")).to_have_count(0)
    screenshot("cancelled")
    with server.http() as http:
        assert http.get(queued["poll_url"]).json()["status"] == "cancelled"
    gate.touch()  # a worker still in its setup stops only at the end of the grace period


def test_a_request_page_shows_its_priority_cost_and_the_deadline_that_cancelled_it(
    shared: Callable[..., Server], page: Page, screenshot: Callable[[str], None]
) -> None:
    server = shared("--no-workers")  # nothing runs: the deadline passes in the queue
    headers = {**ASYNC, "Inferq-Priority": "low", "Cancel-After": "1s"}
    with server.http() as http:
        queued = http.post("/echo/predict", json={"delay_s": 2}, headers=headers).json()
        assert http.get(queued["poll_url"], params={"wait": 30}).json()["status"] == "cancelled"
    sign_in(page, server)
    page.goto(f"{server.url}/ui/#/requests/{queued['response_id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("cancelled")
    facts = page.locator("dl.facts")
    expect(facts.locator("dt")).to_contain_text(["Priority", "Cost", "Deadline"])
    expect(facts.locator("dd").nth(1)).to_have_text("low")
    expect(facts.locator("dd").nth(2)).to_have_text("2.01")
    expect(page.locator("section.result")).to_contain_text("deadline_exceeded")
    expect(page.locator("section.result")).to_contain_text("not finished by its deadline")
    screenshot("deadline")


def test_a_failed_request_shows_its_runs_and_is_retried_from_its_page(
    shared: Callable[..., Server], page: Page, screenshot: Callable[[str], None]
) -> None:
    server = shared()
    with server.http() as http:
        failed = http.post("/raises/predict", json={"a": 1}, headers=ASYNC).json()
        assert http.get(failed["poll_url"], params={"wait": 30}).json()["status"] == "failed"
    sign_in(page, server)
    page.goto(f"{server.url}/ui/#/requests/{failed['response_id']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("failed")
    runs = page.locator("table").filter(has_text="Outcome")
    expect(runs.locator("tbody tr")).to_have_count(1)
    expect(runs.locator("tbody td").nth(4)).to_have_text("raised")
    screenshot("failed-runs")
    page.get_by_role("button", name="Retry request").click()
    expect(page.locator("dl.facts")).to_contain_text(failed["response_id"])  # "Retry of" links back
    expect(page.get_by_role("heading", level=1)).not_to_contain_text(failed["response_id"])
    expect(page.get_by_role("heading", level=1)).to_contain_text("failed")  # raises again: the same inputs
    screenshot("retried")
