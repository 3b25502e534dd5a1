"""The container image, built for real: a Docker daemon (scripts/docker-up), a base image
from Debian's packages (scripts/docker-base, as Docker Hub may be out of reach), this
source's wheels (scripts/wheelhouse), then ``docker build``. Containers use the host's
network, on ports of their own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, wait_until

ROOT = Path(__file__).parents[2]
BASE = "inferq-base:bookworm"
IMAGE = "inferq:test"


def run(*argv: str, timeout: float = 900) -> str:
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, f"{' '.join(argv)}: {done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture(scope="session")
def image() -> str:
    run("scripts/docker-up")
    run("scripts/docker-base", BASE)
    run("scripts/wheelhouse")
    run("docker", "build", "--network", "host", "--build-arg", f"BASE={BASE}", "-t", IMAGE, ".")
    return IMAGE


def build_from(tag: str, dockerfile: str, context: Path) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    run("docker", "build", "--network", "host", "-t", tag, str(context))


@pytest.fixture(scope="session")
def stand_ins(image: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The images compose.test.yaml puts in for Redis and MinIO, from Debian's packages and PyPI."""
    build_from(
        "inferq-test-redis",
        f"FROM {BASE}\nRUN apt-get update && apt-get install -y --no-install-recommends redis-server"
        " && rm -rf /var/lib/apt/lists/*\n",
        tmp_path_factory.mktemp("redis"),
    )
    s3 = tmp_path_factory.mktemp("s3")
    run(sys.executable, "-m", "pip", "wheel", "-q", "-w", str(s3 / "wheels"), "moto[server]")
    build_from(
        "inferq-test-s3",
        f"FROM {BASE}\nCOPY wheels /wheels\n"
        "RUN python3 -m venv /opt/moto && /opt/moto/bin/pip install -q --no-index -f /wheels 'moto[server]'\n",
        s3,
    )


@dataclass
class Container:
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True, check=False)
        return done.stdout + done.stderr

    def inspect(self) -> dict[str, object]:
        [state] = json.loads(run("docker", "inspect", self.name))
        return dict(state)


@pytest.fixture
def start(image: str) -> Iterator[Callable[..., Container]]:
    """Start containers of the image (each with a port of its own); all removed at the end."""
    started: list[str] = []

    def start_one(
        data: Path, *args: str, env: dict[str, str] | None = None, name: str | None = None
    ) -> Container:
        port = free_port()
        name = name or f"inferq-test-{port}"
        flags = [f"--env={key}={value}" for key, value in {"INFERQ_PORT": str(port), **(env or {})}.items()]
        run(
            "docker",
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "-v",
            f"{data}:/data",
            *flags,
            image,
            *args,
        )
        started.append(name)
        container = Container(name, port)
        wait_until(lambda: "serving" in container.logs(), 60, "the server up")
        return container

    yield start_one
    for name in started:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
