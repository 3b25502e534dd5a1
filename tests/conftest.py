"""Real servers for tests: ``inferq serve`` as a process tree on a real SQLite file."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")
SERVICES = Path(__file__).parent / "services"


def wait_until(check: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    """Call ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except (httpx.TransportError, OSError):
            result = None  # type: ignore[assignment]
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def inferq(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the ``inferq`` command line as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "inferq", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=check,
        env={**os.environ, **(env or {})},
    )


def create_token(backend: str, name: str = "test", *, admin: bool = False) -> str:
    """A new user token (or admin token) on ``backend``, through the command line."""
    flags = ["--admin"] if admin else []
    created = inferq("token", "create", "--backend", backend, "--name", name, *flags)
    return created.stdout.strip().splitlines()[-1]


@dataclass
class Server:
    """One ``inferq serve`` process tree; its workers share its process group."""

    backend: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_for: tuple[str, ...] = ()) -> Server:
        if not self.token:
            self.token = create_token(self.backend)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "inferq",
                    "serve",
                    "--backend",
                    self.backend,
                    "--port",
                    str(self.port),
                    *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **self.env},
            )
        with httpx.Client(base_url=self.url) as http:
            wait_until(lambda: http.get("/healthz").status_code == 200, what="gateway up")
        for endpoint in wait_for:
            self.wait_ready(endpoint)
        return self

    def wait_ready(self, endpoint: str, timeout: float = 60.0) -> None:
        with self.http() as http:
            wait_until(
                lambda: http.get(f"/{endpoint}/healthcheck").status_code == 200, timeout, f"{endpoint} ready"
            )

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=70, **kwargs)

    def kill_tree(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process tree at once, as a crash or ``kill -9 -PGID`` would."""
        assert self.proc is not None
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        wait_until(lambda: not _group_alive(self.proc.pid), 30, "process group gone")  # type: ignore[union-attr]

    def stop(self) -> None:
        """SIGTERM, as an operator stops it; a tree still up after 30 s is killed, so one slow
        shutdown cannot leak processes into the tests that follow (clean exits are asserted
        in tests/cli/test_cli.py)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.kill_tree(signal.SIGTERM)
        except (subprocess.TimeoutExpired, AssertionError):
            self.kill_tree(signal.SIGKILL)

    def workers(self) -> list[int]:
        """Pids of the worker processes (children of serve)."""
        assert self.proc is not None
        out = subprocess.run(
            ["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True, check=False
        ).stdout
        return [int(pid) for pid in out.split()]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


REDIS_URL = os.environ.get("INFERQ_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.fixture(params=["sqlite", "redis"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store behind the ``serve`` fixture: every HTTP test runs on both backends.

    SQLite lives in tmp_path; Redis gets a key prefix of this test's own, deleted afterwards.
    ``INFERQ_TEST_BACKENDS=sqlite`` narrows the run.
    """
    kind = request.param
    if kind not in os.environ.get("INFERQ_TEST_BACKENDS", "sqlite,redis").split(","):
        pytest.skip(f"INFERQ_TEST_BACKENDS leaves out {kind}")
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'inferq.db'}"
        return
    import redis

    prefix = f"iqtest-{secrets.token_hex(6)}"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}:*", count=1000):
        client.delete(key)
    client.close()


@pytest.fixture
def serve(tmp_path: Path, backend_url: str) -> Iterator[Callable[..., Server]]:
    """Start ``inferq serve`` with extra CLI args; every server is stopped at the end."""
    servers: list[Server] = []

    def start(
        *args: str,
        endpoints: str = "echo",
        wait_for: tuple[str, ...] | None = None,
        backend: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Server:
        server = Server(
            backend=backend or backend_url,
            args=["--endpoints", endpoints, *args],
            log_path=tmp_path / f"serve-{len(servers)}.log",
            env=env or {},
        )
        servers.append(server)
        names = tuple(part.split("=")[0] for part in endpoints.split(","))
        return server.start(wait_for=names if wait_for is None else wait_for)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def echo_server(serve: Callable[..., Server]) -> Server:
    """A server with the echo endpoint, its worker ready."""
    return serve()


@pytest.fixture(scope="module")
def whisper_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One Whisper server per module: the model loads once. Audio is capped at 20 s."""
    tmp = tmp_path_factory.mktemp("whisper")
    server = Server(
        f"sqlite:///{tmp / 'inferq.db'}",
        ["--endpoints", "whisper", "--sync-timeout", "120s"],
        tmp / "serve.log",
        env={"INFERQ_WHISPER_MAX_DURATION_S": "20"},
    )
    server.start(wait_for=("whisper",))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def seashells(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Speech saying :data:`tests.audio.SEASHELLS`, as the seed's WAV file."""
    from tests.audio import SEASHELLS, make_speech

    return make_speech(tmp_path_factory.mktemp("audio") / "she_sells_seashells.wav", SEASHELLS)


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()
