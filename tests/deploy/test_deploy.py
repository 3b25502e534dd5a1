"""The image as self-hosters run it: alone (Whisper transcribes from the first start, as a
user of its own, with the store on the volume, healthy by its own HEALTHCHECK, and a restart
keeps the token and the requests), and as the compose stack over Redis and S3."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import free_port, wait_until
from tests.deploy.conftest import ROOT, Container, run

TOKEN = re.compile(r"^iq_\S+$", re.MULTILINE)


def compose_token(compose: list[str], env: dict[str, str]) -> str | None:
    """The first admin token a compose project's services printed, once one has."""
    logs = subprocess.run(
        [*compose, "logs", "--no-color"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    found = re.findall(r"\b(iq_[A-Za-z0-9_-]{20,})", logs.stdout)
    return found[0] if found else None


def test_the_image_transcribes_as_its_own_user_and_keeps_its_store_on_the_volume(
    start: Callable[..., Container], seashells: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)  # the container's user (uid 10001) writes here
    first = start(data)
    [token] = TOKEN.findall(first.logs())
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=first.url, headers=headers, timeout=120) as http:
        wait_until(lambda: http.get("/whisper/healthcheck").status_code == 200, 120, "whisper ready")
        with seashells.open("rb") as audio:
            answer = http.post("/whisper/predict", files={"audio": audio})
        assert answer.status_code == 200, answer.text
        assert answer.json()["response"]["text"] == "She sells seashells by the seashore."
        assert (
            http.get("/echo/healthcheck").status_code == 404
        )  # whisper alone, unless INFERQ_ENDPOINTS says more
    assert run("docker", "exec", first.name, "id", "-u").strip() == "10001"
    assert (data / "inferq.db").exists()
    wait_until(lambda: first.inspect()["State"]["Health"]["Status"] == "healthy", 90, "HEALTHCHECK healthy")  # type: ignore[index]

    listed = httpx.get(f"{first.url}/v1/requests", headers=headers).json()["results"]
    run("docker", "stop", first.name)  # SIGTERM: a clean stop
    assert first.inspect()["State"]["ExitCode"] == 0  # type: ignore[index]
    second = start(data)
    assert not TOKEN.findall(second.logs())  # no new token: the store on the volume has it
    with httpx.Client(base_url=second.url, headers=headers) as http:
        again = http.get("/v1/requests").json()["results"]
    assert [r["response_id"] for r in again] == [r["response_id"] for r in listed]


def test_every_serve_flag_reads_from_its_variable(start: Callable[..., Container], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    container = start(data, env={"INFERQ_ENDPOINTS": "echo", "INFERQ_MAX_BODY": "1000"})
    [token] = TOKEN.findall(container.logs())
    with httpx.Client(base_url=container.url, headers={"Authorization": f"Bearer {token}"}) as http:
        wait_until(lambda: http.get("/echo/healthcheck").status_code == 200, 60, "echo ready")
        assert http.post("/echo/predict", json={"x": 1}).json() == {"echo": {"x": 1}}
        assert http.post("/echo/predict", json={"x": "y" * 2000}).status_code == 413


def test_the_compose_stack_serves_from_both_gateways_and_scales_its_workers(
    image: str, stand_ins: None, seashells: Path
) -> None:
    ports = {"GATEWAY_1_PORT": str(free_port()), "GATEWAY_2_PORT": str(free_port())}
    project = f"inferq-test-{ports['GATEWAY_1_PORT']}"
    env = {**os.environ, **ports, "INFERQ_IMAGE": image}
    compose = ["docker-compose", "-p", project, "-f", "compose.yaml", "-f", "tests/deploy/compose.test.yaml"]

    def up(workers: int) -> None:
        argv = [*compose, "up", "-d", "--no-build", "--scale", f"whisper-worker={workers}"]
        done = subprocess.run(
            argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr

    try:
        up(2)
        gateways = [f"http://127.0.0.1:{ports[name]}" for name in ("GATEWAY_1_PORT", "GATEWAY_2_PORT")]

        headers = {
            "Authorization": f"Bearer {wait_until(lambda: compose_token(compose, env), 120, 'the first admin token')}"
        }
        first, second = (httpx.Client(base_url=url, headers=headers, timeout=120) for url in gateways)
        with first, second:

            def ready_workers() -> int:
                listing = second.get("/v1/endpoints")
                return (
                    int(listing.json()["endpoints"][0]["ready_workers"]) if listing.status_code == 200 else -1
                )

            wait_until(lambda: ready_workers() == 2, 180, "two whisper workers")
            with seashells.open("rb") as audio:  # a multipart part: into the S3 bucket
                future = first.post(
                    "/whisper/predict", files={"audio": audio}, headers={"Prefer": "respond-async"}
                )
            assert future.status_code == 202, future.text
            state = second.get(f"/v1/requests/{future.json()['response_id']}", params={"wait": 60}).json()
            assert state["status"] == "completed", state
            output = second.get(f"/v1/requests/{state['response_id']}/response").json()
            assert output["response"]["text"] == "She sells seashells by the seashore."
            up(3)
            wait_until(lambda: ready_workers() == 3, 180, "a third whisper worker")
    finally:
        subprocess.run(
            [*compose, "down", "-v"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False
        )


def test_the_single_machine_compose_form_serves_on_its_volume(image: str) -> None:
    port = free_port()
    project = f"inferq-single-{port}"
    env = {**os.environ, "INFERQ_IMAGE": image, "INFERQ_PUBLISH": str(port), "INFERQ_ENDPOINTS": "echo"}
    compose = ["docker-compose", "-p", project, "-f", "compose.single.yaml"]
    try:
        up = subprocess.run(
            [*compose, "up", "-d", "--no-build"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert up.returncode == 0, up.stderr

        headers = {
            "Authorization": f"Bearer {wait_until(lambda: compose_token(compose, env), 60, 'the first admin token')}"
        }
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as http:
            wait_until(lambda: http.get("/echo/healthcheck").status_code == 200, 60, "echo ready")
            assert http.post("/echo/predict", json={"x": 1}).json() == {"echo": {"x": 1}}
    finally:
        subprocess.run(
            [*compose, "down", "-v"], cwd=ROOT, env=env, capture_output=True, timeout=300, check=False
        )
