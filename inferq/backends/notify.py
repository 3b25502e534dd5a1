"""Wake-ups: one subscription per process, fanned out to the waiters inside it.

Two topics exist: *work* for an endpoint (a worker may claim) and *changed* for a
request (it started, made progress or ended: a long poll or an event stream may
answer). A waiter registers an ``asyncio.Event`` for its topic; the process's single
listener sets them. ``Bus`` holds the fan-out; subclasses only move topics between
processes (``LocalBus`` over Unix datagrams for one machine, Redis pub/sub for many).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

WORK = "w:"
CHANGED = "r:"


class Bus(ABC):
    """Per-process fan-out of notifications to asyncio waiters."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    @abstractmethod
    async def start(self) -> None:
        """Begin receiving notifications from other processes."""

    @abstractmethod
    async def close(self) -> None:
        """Stop receiving; idempotent."""

    @abstractmethod
    def _send(self, topic: str) -> None:
        """Deliver ``topic`` to every process, this one included; best effort, never blocks."""

    def publish_work(self, endpoint: str) -> None:
        self._send(WORK + endpoint)

    def publish_changed(self, response_id: str) -> None:
        self._send(CHANGED + response_id)

    @contextlib.contextmanager
    def watch_work(self, endpoint: str) -> Iterator[asyncio.Event]:
        with self._watch(WORK + endpoint) as event:
            yield event

    @contextlib.contextmanager
    def watch_changes(self, response_id: str) -> Iterator[asyncio.Event]:
        with self._watch(CHANGED + response_id) as event:
            yield event

    @contextlib.contextmanager
    def _watch(self, topic: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters.setdefault(topic, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(topic)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._waiters[topic]

    def _deliver(self, topic: str) -> None:
        for event in self._waiters.get(topic, ()):
            event.set()

    def _deliver_all(self) -> None:
        """Wake every waiter: after a gap in which notifications may have been lost."""
        for events in self._waiters.values():
            for event in events:
                event.set()

    @property
    def waiting(self) -> int:
        """How many waiters this process holds (for metrics and leak tests)."""
        return sum(len(events) for events in self._waiters.values())


class LocalBus(Bus):
    """Notifications between the processes of one machine sharing one SQLite file.

    Each process binds a Unix datagram socket in a directory named after the database;
    publishing sends one datagram to every socket there. Sockets of dead processes are
    removed by the first sender that finds them refusing. The directory lives in the
    temp dir (socket paths are limited to 108 bytes) and is private to the user.
    """

    _PEER_REFRESH_S = 0.5

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]
        self.directory = Path(tempfile.gettempdir()) / f"inferq-{os.getuid()}" / digest
        self._sock: socket.socket | None = None
        self._path: Path | None = None
        self._peers: list[str] = []
        self._peers_read_at = 0.0
        self._outbox: set[str] = set()

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(self._path))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        self._sock = sock
        asyncio.get_running_loop().add_reader(sock.fileno(), self._on_readable)
        self._peers_read_at = 0.0

    async def close(self) -> None:
        if self._sock is None:
            return
        with contextlib.suppress(RuntimeError):
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None
        if self._path is not None:
            self._path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # not empty: another process still listens
                self.directory.rmdir()

    def _on_readable(self) -> None:
        assert self._sock is not None
        while True:
            try:
                data = self._sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            for topic in data.decode().split("\n"):
                self._deliver(topic)

    def _send(self, topic: str) -> None:
        """Queue ``topic``; everything queued in one loop iteration leaves in one datagram per peer."""
        if not self._outbox:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outbox.add(topic)

    def _flush(self) -> None:
        topics, self._outbox = self._outbox, set()
        if self._sock is None:
            for topic in topics:
                self._deliver(topic)
            return
        for datagram in _pack(topics):
            for peer in self._current_peers():
                self._send_to(peer, datagram)

    def _send_to(self, peer: str, datagram: bytes) -> None:
        assert self._sock is not None
        try:
            self._sock.sendto(datagram, peer)
        except (ConnectionRefusedError, FileNotFoundError):
            with contextlib.suppress(OSError):
                os.unlink(peer)
            self._peers_read_at = 0.0
        except OSError as exc:  # a full receiver: it has its own safety timeouts
            log.debug("notification to %s dropped: %s", peer, exc)

    def _current_peers(self) -> list[str]:
        if time.monotonic() - self._peers_read_at > self._PEER_REFRESH_S:
            with contextlib.suppress(FileNotFoundError):
                self._peers = [e.path for e in os.scandir(self.directory) if e.name.endswith(".sock")]
            self._peers_read_at = time.monotonic()
        return self._peers


def _pack(topics: set[str], limit: int = 8192) -> Iterator[bytes]:
    """Newline-joined topics in datagrams of at most ``limit`` bytes."""
    batch: list[bytes] = []
    size = 0
    for topic in topics:
        data = topic.encode()
        if batch and size + len(data) + 1 > limit:
            yield b"\n".join(batch)
            batch, size = [], 0
        batch.append(data)
        size += len(data) + 1
    if batch:
        yield b"\n".join(batch)
