"""Slow and numerous connections, caused for real: sockets that send half a request line, or
stop halfway through a body, are disconnected after ``--read-timeout`` (408 for late headers);
connections beyond ``--max-connections`` get a 503 at once; a client already connected is
served throughout, and new clients are once the slow ones are gone."""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from tests.conftest import Server, wait_until

SLOW = 60
CAP = 30


def connect(server: Server) -> socket.socket:
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=30)
    return sock


def answer(sock: socket.socket) -> bytes:
    """All the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    sock.close()
    return received


def test_slow_sockets_are_cut_off_and_never_lock_other_clients_out(serve: Callable[..., Server]) -> None:
    server = serve("--read-timeout", "2s", "--max-connections", str(CAP))
    with server.http() as connected:
        assert connected.get("/healthz").status_code == 200
        slow = [connect(server) for _ in range(SLOW)]
        for sock in slow:
            sock.sendall(b"GET /healthz HT")  # half a request line, and then nothing
        assert connected.get("/healthz").status_code == 200, "a client already connected is served"
        refused = httpx.get(f"{server.url}/healthz")
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["message"] == "too many connections: try again in a moment"
        statuses = Counter(answer(sock).split(b" ", 2)[1] for sock in slow)
        assert set(statuses) == {b"408", b"503"} and sum(statuses.values()) == SLOW, statuses
        assert connected.get("/healthz").status_code == 200
    served = wait_until(lambda: httpx.get(f"{server.url}/healthz").status_code == 200, what="a new client")
    assert served


def test_a_body_that_stops_halfway_is_cut_off_and_nothing_is_queued(serve: Callable[..., Server]) -> None:
    server = serve("--read-timeout", "2s")
    sock = connect(server)
    head = (
        f"POST /echo/predict HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {server.token}\r\n"
        "content-type: application/json\r\nprefer: respond-async\r\ncontent-length: 1000\r\n\r\n"
    )
    sock.sendall(head.encode() + b'{"x": "')  # and the other 993 bytes never come
    assert answer(sock) == b"", "closed without an answer: the request was never complete"
    with server.http() as http:
        assert http.get("/v1/requests").json()["results"] == []
