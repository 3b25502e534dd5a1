"""A webhook receiver on loopback: records every POST it gets, and can be told to fail some."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook

from tests.conftest import free_port, wait_until


@dataclass(frozen=True)
class Post:
    """One POST as the receiver saw it, and the status it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    answered: int

    def verified(self, secret: str) -> Any:
        """The JSON body once its Standard Webhooks signature checks out (raises otherwise)."""
        return Webhook(secret).verify(self.body, self.headers)


class Receiver:
    """``http.server`` in a thread; ``fail_next(n)`` answers the next ``n`` POSTs with 500."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.posts: list[Post] = []
        self._failures = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def delivered(self) -> list[Post]:
        """The POSTs it accepted (2xx)."""
        return [post for post in self.posts if post.answered < 300]

    def fail_next(self, count: int) -> None:
        with self._lock:
            self._failures = count

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        with self._lock:
            status = 500 if self._failures > 0 else 204
            self._failures = max(0, self._failures - 1)
            self.posts.append(Post(path, headers, body, status))
        return status

    def start(self) -> Receiver:
        answer = self._answer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                self.send_response(answer(self.path, dict(self.headers.items()), body))
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Post]:
        """The first ``count`` accepted deliveries, once they arrived."""
        wait_until(lambda: len(self.delivered) >= count, timeout, f"{count} webhook deliveries")
        return self.delivered[:count]
