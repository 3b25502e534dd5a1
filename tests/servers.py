"""Real servers for tests: ``inferq serve`` as a process tree on a real store, and the calls
every test makes to them."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

T = TypeVar("T")
SERVICES = Path(__file__).parent / "services"
#: The examples the docs show, run by the tests as written.
EXAMPLES = Path(__file__).parent.parent / "examples"
REDIS_URL = os.environ.get("INFERQ_TEST_REDIS", "redis://127.0.0.1:6379/0")
#: A token as ``inferq serve`` prints it on a line of its own.
PRINTED_TOKEN = re.compile(r"^iq_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$")
#: One TLS context for every client the tests make: httpx would otherwise load the CA
#: bundle again for each (about 0.15 s), and tests make thousands of clients.
TLS = ssl.create_default_context()


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


def occupy(http: httpx.Client, seconds: float) -> dict[str, Any]:
    """Queue an echo that works ``seconds`` and return its future once a worker runs it: the
    queue runs a token's shorter work first, so a long request holds the only worker only
    once it has started."""
    future: dict[str, Any] = http.post(
        "/echo/predict", json={"delay_s": seconds}, headers={"Prefer": "respond-async"}
    ).json()
    wait_until(lambda: http.get(future["poll_url"]).json()["status"] != "pending", what="a worker to take it")
    return future


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


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


@dataclass
class Server:
    """One ``inferq serve`` process tree; its workers share its process group.

    ``token`` is the user token the test calls with (minted at start unless given);
    ``admin_token`` the operator's, the one ``serve`` printed on first start.
    """

    backend: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    token: str = ""
    admin_token: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait_for: tuple[str, ...] = ()) -> Server:
        started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
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
        with self.anonymous() as http:
            wait_until(lambda: http.get("/healthz").status_code == 200, what="gateway up")
        if not self.admin_token:
            this_start = self.log_path.read_bytes()[started_at:].decode(errors="replace")
            printed = [line.strip() for line in this_start.splitlines() if PRINTED_TOKEN.match(line.strip())]
            self.admin_token = printed[0] if printed else ""
        if not self.token:
            self.token = self.new_token("test")
        for endpoint in wait_for:
            self.wait_ready(endpoint)
        return self

    def new_token(self, name: str, *, admin: bool = False) -> str:
        """A new token, made over HTTP with the admin token; through the command line when
        this server found tokens in its store and so printed none."""
        if not self.admin_token:
            return create_token(self.backend, name, admin=admin)
        with self.http(token=self.admin_token) as http:
            made = http.post("/v1/tokens", json={"name": name, "admin": admin})
        assert made.status_code == 201, made.text
        return str(made.json()["token"])

    def wait_ready(self, endpoint: str, timeout: float = 60.0) -> None:
        with self.http(token=self.admin_token or None) as http:
            wait_until(
                lambda: http.get(f"/{endpoint}/healthcheck").status_code == 200, timeout, f"{endpoint} ready"
            )

    def http(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client calling with ``token``, the test's own by default."""
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return self.anonymous(headers=headers, **kwargs)

    def anonymous(self, **kwargs: Any) -> httpx.Client:
        """A client that sends no token."""
        return httpx.Client(base_url=self.url, timeout=70, verify=TLS, **kwargs)

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
