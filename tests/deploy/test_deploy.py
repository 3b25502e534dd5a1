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
import yaml

from inferq import Client
from inferq.types import Audio
from tests.audio import SEASHELLS, make_speech
from tests.conftest import free_port, wait_until
from tests.deploy.conftest import ROOT, Container, run

#: A token as ``serve`` prints it (Compose's logs put the service's name before it).
TOKEN = re.compile(r"\b(iq_[A-Za-z0-9_-]{20,})")


def compose_token(compose: list[str], env: dict[str, str]) -> str | None:
    """The first admin token a compose project's services printed, once one has."""
    logs = subprocess.run(
        [*compose, "logs", "--no-color"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    found = TOKEN.findall(logs.stdout)
    return found[0] if found else None


def test_the_image_runs_the_seed_workflow_as_its_own_user_and_survives_a_kill(
    start: Callable[..., Container], seashells: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)  # the container's user (uid 10001) writes here
    first = start(data)
    [token] = TOKEN.findall(first.logs())
    inputs = {"language": "en", "task": "transcribe", "audio": Audio.from_file(seashells).audio_b64}
    with Client(token=token) as client:  # the users' example: a future, then its result
        assert client.health_check(f"{first.url}/whisper/healthcheck", timeout=120) == 200
        future = client.infer_async(f"{first.url}/whisper/predict", inputs)
        result = client.get_future_result(future) if client.is_future_ready(future) else future.result(60)
    assert result is not None and result["response"]["text"] == "She sells seashells by the seashore."
    assert run("docker", "exec", first.name, "id", "-u").strip() == "10001"
    assert (data / "inferq.db").exists()
    health = lambda: first.inspect()["State"]["Health"]["Status"]  # type: ignore[index]
    wait_until(lambda: health() == "healthy", 90, "HEALTHCHECK healthy")

    with Client(token=token) as client:  # accepted, then the container is killed before it runs
        pending = [client.infer_async(f"{first.url}/whisper/predict", inputs) for _ in range(3)]
    run("docker", "kill", first.name)
    second = start(data, name=f"{first.name}-again")
    assert not TOKEN.findall(second.logs())  # no new token: the store on the volume has it
    with httpx.Client(base_url=second.url, headers={"Authorization": f"Bearer {token}"}, timeout=130) as http:
        for accepted in pending:  # the new container listens elsewhere: the same ids, its URL
            state = http.get(f"/v1/requests/{accepted.response_id}", params={"wait": 60}).json()
            assert state["status"] == "completed", state


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


def host_networked(env: dict[str, str], tmp_path: Path) -> Path:
    """compose.yaml with tests/deploy/compose.test.yaml over it, and the ports it publishes
    taken out (a host-networked container has none; Compose cannot unset them in an override)."""
    files = ["-f", "compose.yaml", "-f", "tests/deploy/compose.test.yaml"]
    merged = subprocess.run(
        ["docker-compose", *files, "config"], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    config = yaml.safe_load(merged.stdout)
    for service in config["services"].values():
        service.pop("ports", None)
    path = tmp_path / "compose.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_compose_stack_serves_through_both_gateways_and_loses_nothing_to_a_killed_worker(
    image: str, stand_ins: None, tmp_path: Path
) -> None:
    names = ("GATEWAY_1_PORT", "GATEWAY_2_PORT", "TEST_REDIS_PORT", "TEST_S3_PORT")
    ports = {name: str(free_port()) for name in names}
    env = {**os.environ, **ports, "INFERQ_IMAGE": image}
    project = f"inferq-test-{ports['GATEWAY_1_PORT']}"
    compose = ["docker-compose", "-p", project, "-f", str(host_networked(env, tmp_path))]

    def compose_run(*args: str) -> None:
        done = subprocess.run(
            [*compose, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr

    talk = make_speech(tmp_path / "talk.mp3", " ".join([SEASHELLS] * 6), fmt="mp3")
    try:
        compose_run("up", "-d", "--no-build", "--scale", "whisper-worker=2")
        token = wait_until(lambda: compose_token(compose, env), 120, "the first admin token")
        headers = {"Authorization": f"Bearer {token}"}
        first, second = (
            httpx.Client(base_url=f"http://127.0.0.1:{ports[name]}", headers=headers, timeout=120)
            for name in names[:2]
        )
        with first, second:

            def ready_workers() -> int:
                listing = second.get("/v1/endpoints")
                ok = listing.status_code == 200
                return int(listing.json()["endpoints"][0]["ready_workers"]) if ok else -1

            wait_until(lambda: ready_workers() == 2, 180, "two whisper workers")
            with talk.open("rb") as audio:  # a multipart part: into the S3 bucket
                future = first.post(
                    "/whisper/predict", files={"audio": audio}, headers={"Prefer": "respond-async"}
                )
            assert future.status_code == 202, future.text
            poll = f"/v1/requests/{future.json()['response_id']}"
            wait_until(lambda: second.get(poll).json()["status"] == "running", 60, "the request running")
            compose_run("kill", "whisper-worker")  # mid-request: its lease runs out, it runs again
            compose_run("up", "-d", "--no-build", "--scale", "whisper-worker=2")
            state = second.get(poll, params={"wait": 60}).json()
            assert state["status"] == "completed", state
            assert state["attempts"] == 2
            text = second.get(f"{poll}/response").json()["response"]["text"]
            assert text.lower().count("she sells seashells by the seashore") >= 5
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
