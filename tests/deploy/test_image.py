"""The image as a self-hoster runs it: Whisper transcribes from the first start, as a user
of its own, with the store on the volume, healthy by its own HEALTHCHECK, and a restart
keeps the token and the requests."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import wait_until
from tests.deploy.conftest import Container, run

TOKEN = re.compile(r"^iq_\S+$", re.MULTILINE)


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
