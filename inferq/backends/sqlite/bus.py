"""Notifications between the processes of one machine that share one SQLite file."""

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
from collections.abc import Iterator
from pathlib import Path

from inferq.backends.bus import Bus

log = logging.getLogger(__name__)


class LocalBus(Bus):
    """Notifications between the processes of one machine sharing one SQLite file.

    Each process binds a Unix datagram socket in a directory named after the database;
    publishing sends one datagram to every socket there. Sockets of dead processes are
    removed by the first sender that finds them refusing. The directory lives in the
    temp dir (socket paths are limited to 108 bytes) and is private to the user.
    """

    _PEER_REFRESH_S = 0.5
    #: A full receiver is tried again after this, doubling up to ``MAX_RETRY_S``.
    MIN_RETRY_S = 0.001
    MAX_RETRY_S = 0.05
    #: Topics kept for one receiver that does not read; past this it is presumed stuck.
    MAX_BACKLOG = 100_000
    #: ``close`` waits this long for held topics to leave.
    CLOSE_FLUSH_S = 1.0

    def __init__(self, db_path: Path) -> None:
        super().__init__()
        digest = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:16]
        self.directory = Path(tempfile.gettempdir()) / f"inferq-{os.getuid()}" / digest
        self._sock: socket.socket | None = None
        self._path: Path | None = None
        self._peers: list[str] = []
        self._peers_read_at = 0.0
        self._outbox: set[str] = set()
        self._backlog: dict[str, set[str]] = {}
        self._retry: asyncio.TimerHandle | None = None
        self._retry_delay = self.MIN_RETRY_S

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
        if self._outbox:  # sent in this loop iteration (a command line's one revocation, say)
            self._flush()
        deadline = time.monotonic() + self.CLOSE_FLUSH_S
        while self._backlog and time.monotonic() < deadline:  # e.g. a worker's last "completed"
            await asyncio.sleep(self.MAX_RETRY_S)
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
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
        datagrams = list(_pack(topics))
        for peer in self._current_peers():
            self._send_all(peer, datagrams)

    def _send_all(self, peer: str, datagrams: list[bytes]) -> None:
        """Send in order; what a full receiver refuses waits in its backlog for a retry."""
        assert self._sock is not None
        for index, datagram in enumerate(datagrams):
            try:
                self._sock.sendto(datagram, peer)
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(peer)
                self._peers_read_at = 0.0
                self._backlog.pop(peer, None)
                return
            except (BlockingIOError, InterruptedError):
                self._hold(peer, datagrams[index:])
                return
            except OSError as exc:
                log.warning("notification to %s dropped: %s", peer, exc)

    def _hold(self, peer: str, datagrams: list[bytes]) -> None:
        """Keep topics for a peer whose queue is full (Linux queues only a few datagrams
        per socket, ``net.unix.max_dgram_qlen``) and retry soon, backing off while it stays full."""
        backlog = self._backlog.setdefault(peer, set())
        for datagram in datagrams:
            backlog.update(datagram.decode().split("\n"))
        if len(backlog) > self.MAX_BACKLOG:
            log.warning("peer %s is not reading notifications: %d dropped", peer, len(backlog))
            del self._backlog[peer]
        if self._retry is None:
            self._retry = asyncio.get_running_loop().call_later(self._retry_delay, self._resend)

    def _resend(self) -> None:
        self._retry = None
        backlog, self._backlog = self._backlog, {}
        self._retry_delay = min(self.MAX_RETRY_S, self._retry_delay * 2)  # for what fails again
        for peer, topics in backlog.items():
            self._send_all(peer, list(_pack(topics)))
        if not self._backlog:
            self._retry_delay = self.MIN_RETRY_S

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
