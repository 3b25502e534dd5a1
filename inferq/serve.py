"""``inferq serve``: the gateway in this process, workers as supervised child processes."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import logging
import os
import signal
import socket
import sys
from typing import TYPE_CHECKING

import uvicorn

from inferq.backends import BackendUnavailable, open_backend
from inferq.gateway.app import create_app
from inferq.gateway.connections import connection_cap, guarded_protocol
from inferq.service.base import WORKER_THREADS_ENV, cores
from inferq.service.loader import load_service
from inferq.settings import WORKER_FIELDS
from inferq.worker.loop import ModelStuck, new_worker_id

if TYPE_CHECKING:
    from collections.abc import Callable

    from inferq.backends import Backend
    from inferq.settings import Settings

log = logging.getLogger(__name__)

#: A child that stops this long after starting is restarted at once; quicker deaths back off,
#: except a worker that exits to be replaced (its model would not stop): it served.
STABLE_AFTER_S = 10.0
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 10.0
#: Connections the kernel holds for the gateway before it accepts them (uvicorn's default).
LISTEN_BACKLOG = 2048


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this child when the supervisor dies, so no worker is orphaned."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def worker_argv(settings: Settings, endpoint: str, worker_id: str) -> list[str]:
    """The ``inferq worker`` command line that runs ``endpoint`` with these settings."""
    return [
        sys.executable,
        "-m",
        "inferq",
        "worker",
        "--endpoint",
        f"{endpoint}={settings.endpoints[endpoint]}",
        "--worker-id",
        worker_id,
        *settings.argv(WORKER_FIELDS),
    ]


def describe_exit(returncode: int) -> str:
    """How a worker process ended, as the requests it was running report it."""
    if returncode < 0:
        try:
            return f"the worker was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"the worker was killed by signal {-returncode}"
    return f"the worker exited with code {returncode}"


class Supervisor:
    """Keeps ``settings.workers`` worker processes per endpoint (or as many as its Service
    asks for) alive until stopped, the cores shared among them (``INFERQ_WORKER_THREADS``).

    It names each child's worker id, so when a child dies it tells the backend at once
    (``release_worker``): the child's requests go back to the queue, or fail saying how it
    died, without waiting for their leases to run out.
    """

    def __init__(self, settings: Settings, backend: Backend) -> None:
        self.settings = settings
        self.backend = backend
        self.children: dict[tuple[str, int], asyncio.subprocess.Process] = {}
        self._stopping = False

    async def run(self) -> None:
        slots = []
        for endpoint, target in self.settings.endpoints.items():
            count = self.settings.workers or load_service(target).default_workers()
            share = {WORKER_THREADS_ENV: os.environ.get(WORKER_THREADS_ENV) or str(max(1, cores() // count))}
            slots += [self._keep_alive(endpoint, index, share) for index in range(count)]
        await asyncio.gather(*slots)

    async def _keep_alive(self, endpoint: str, index: int, env: dict[str, str]) -> None:
        backoff = 0.0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            started = loop.time()
            worker_id = new_worker_id(endpoint)
            argv = worker_argv(self.settings, endpoint, worker_id)
            child = await asyncio.create_subprocess_exec(
                *argv, env={**os.environ, **env}, preexec_fn=_die_with_parent
            )
            self.children[(endpoint, index)] = child
            code = await child.wait()
            if self._stopping:
                return
            await self._release(worker_id, code)
            lived = loop.time() - started
            stable = lived > STABLE_AFTER_S or code == ModelStuck.exit_code
            backoff = 0.0 if stable else min(MAX_BACKOFF_S, max(1.0, backoff * 2))
            log.warning("worker %s[%d] exited with %s; restarting in %.0f s", endpoint, index, code, backoff)
            await asyncio.sleep(backoff)

    async def _release(self, worker_id: str, code: int) -> None:
        """Hand the dead child's requests back. Whatever goes wrong, their leases will expire,
        so a failure here is logged and never stops the supervision of the other children."""
        try:
            held = await self.backend.release_worker(worker_id, describe_exit(code))
        except BackendUnavailable as exc:
            log.warning("could not release the requests of worker %s: %s", worker_id, exc)
            return
        except Exception:
            log.exception("could not release the requests of worker %s", worker_id)
            return
        if held:
            log.warning("worker %s died holding %d request(s): requeued or failed", worker_id, held)

    def stop_restarting(self) -> None:
        """From now on a child that exits stays down: a signal to the whole process group
        reaches the children first, and each would otherwise be restarted during shutdown."""
        self._stopping = True

    async def stop(self) -> None:
        """SIGTERM every child, then SIGKILL those still alive after the grace period."""
        self._stopping = True
        alive = [c for c in self.children.values() if c.returncode is None]
        if alive:
            log.info(
                "stopping %d worker(s): each finishes the request it is running, for up to %g s",
                len(alive),
                STOP_GRACE_S,
            )
        for child in alive:
            with contextlib.suppress(ProcessLookupError):
                child.terminate()
        try:
            await asyncio.wait_for(asyncio.gather(*(c.wait() for c in alive)), STOP_GRACE_S)
        except TimeoutError:
            busy = [c for c in alive if c.returncode is None]
            log.warning(
                "killing %d worker(s) still running after %g s: their requests go back to the queue "
                "when their leases run out (--lease), and run again on the next start",
                len(busy),
                STOP_GRACE_S,
            )
            for child in busy:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()


async def ensure_first_token(backend: Backend, announce: Callable[[str], None]) -> None:
    """On a store with no token yet, mint the operator's admin token and show it (once: it
    is stored hashed); with it, tokens for users are made over HTTP or by ``inferq token``."""
    if await backend.list_tokens():
        return
    _, token = await backend.create_token("default", admin=True)
    announce(
        f"Created the first API token, an admin token (shown once; `inferq token create` makes more):\n{token}"
    )


def _exit_gracefully_on_signals(server: uvicorn.Server, supervisor: Supervisor | None) -> None:
    """Make SIGINT/SIGTERM stop the server and then the workers, exiting 0.

    uvicorn re-raises a captured signal through the handler it found installed, after
    shutting down; with the default handler that would kill this process before its
    workers are stopped and the store is closed.
    """

    def stop(signum: int, frame: object) -> None:
        server.should_exit = True
        if supervisor is not None:
            supervisor.stop_restarting()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)


class PortInUse(RuntimeError):
    """Another process listens on the gateway's address."""


def listening_socket(host: str, port: int) -> socket.socket:
    """The gateway's socket, bound before anything else starts: a port in use is said at
    once, before a token is minted or a worker started, with what to do about it."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        other = port + 1
        raise PortInUse(
            f"port {port} on {host} is already in use (another inferq?). Start on another port with "
            f"--port {other} (or INFERQ_PORT={other} make serve), and point clients at it: "
            f"INFERQ_URL=http://{host}:{other} for the command line, base_url= in the SDK"
        ) from None
    sock.listen(LISTEN_BACKLOG)  # from now on connections wait in the backlog until served
    return sock


async def serve(settings: Settings, announce: Callable[[str], None]) -> None:
    """Run the gateway (and, unless disabled, the workers) until SIGINT or SIGTERM."""
    sock = listening_socket(settings.host, settings.port)
    backend = open_backend(settings.backend, settings.policy())
    await backend.start()
    await ensure_first_token(backend, announce)
    app = create_app(settings, backend)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        loop="auto",
        http=guarded_protocol(settings.read_timeout_s, connection_cap(settings.max_connections)),
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    supervisor = Supervisor(settings, backend) if settings.run_workers else None
    _exit_gracefully_on_signals(server, supervisor)
    workers = asyncio.create_task(supervisor.run()) if supervisor else None
    announce(f"inferq serving {', '.join(settings.endpoints)} on http://{settings.host}:{settings.port}")
    try:
        await server.serve(sockets=[sock])
    finally:
        if supervisor is not None and workers is not None:
            await supervisor.stop()
            workers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await workers
        await backend.close()
