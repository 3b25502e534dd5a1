"""Fixtures for tests against real servers, on both backends.

Most HTTP tests share a server (``echo_server``, ``shared``): one per backend and set of
flags for the session, each test a tenant of its own (tests/shared_servers.py). Tests
about processes (crashes, restarts, the command line's ``serve``, a model's setup) start
their own with ``serve``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import (
    REDIS_URL,
    SERVICES,
    Server,
    b64,
    create_token,
    free_port,
    inferq,
    occupy,
    wait_until,
)
from tests.shared_servers import SharedServers, drop_store, store_url

#: What test modules import from here (tests/servers.py holds them).
__all__ = [
    "BACKENDS",
    "REDIS_URL",
    "SERVICES",
    "Server",
    "b64",
    "chosen",
    "create_token",
    "free_port",
    "inferq",
    "occupy",
    "wait_until",
]


BACKENDS = ["sqlite", "redis"]


def chosen(kind: str) -> str:
    """``kind``, unless ``INFERQ_TEST_BACKENDS`` (``sqlite``, ``redis`` or both) leaves it out."""
    if kind not in os.environ.get("INFERQ_TEST_BACKENDS", ",".join(BACKENDS)).split(","):
        pytest.skip(f"INFERQ_TEST_BACKENDS leaves out {kind}")
    return kind


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of this test's own, on each backend in turn: SQLite in tmp_path, or a Redis
    key prefix deleted afterwards. Behind ``serve``."""
    url = store_url(chosen(str(request.param)), tmp_path)
    yield url
    drop_store(url)


@pytest.fixture(params=BACKENDS)
def backend_kind(request: pytest.FixtureRequest) -> str:
    """Each backend in turn, for the shared servers (``shared``, ``echo_server``)."""
    assert "backend_url" not in request.fixturenames, "a test has a store of its own or shares one, not both"
    return chosen(str(request.param))


@pytest.fixture
def serve(tmp_path: Path, backend_url: str) -> Iterator[Callable[..., Server]]:
    """Start ``inferq serve`` of this test's own, with extra CLI args; every server is
    stopped at the end. For tests about the process tree or a server's first start."""
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


@pytest.fixture(scope="session")
def shared_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServers]:
    """The session's shared servers, started on first use and stopped at the end."""
    servers = SharedServers(tmp_path_factory.mktemp("shared"))
    yield servers
    servers.stop()


@pytest.fixture
def shared(shared_servers: SharedServers, backend_kind: str) -> Callable[..., Server]:
    """The shared server for some extra ``serve`` flags, at rest, as a new tenant.

    It serves echo, ``raises`` and ``batches`` (tests/shared_servers.py), with webhooks
    allowed to loopback. Tests that change flags share a server with every test asking
    for the same flags.
    """

    def tenant(*flags: str) -> Server:
        return shared_servers.tenant(backend_kind, flags)

    return tenant


@pytest.fixture
def echo_server(shared: Callable[..., Server]) -> Server:
    """The shared server with default flags, its workers ready, as a tenant of this test's own."""
    return shared()


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
