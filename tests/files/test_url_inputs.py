"""File inputs given as URLs: refused unless ``--allow-url-inputs``, then fetched by the
worker under the webhooks' address policy (the shared servers allow loopback, where the
test's file server listens; nothing else that is not public), with clear failures."""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Server

BLOB = os.urandom(300_000)


class Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/blob":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BLOB)))
            self.end_headers()
            self.wfile.write(BLOB)
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", self.path.removeprefix("/redirect?to="))
            self.end_headers()
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def file_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_url_inputs_are_refused_unless_allowed(echo_server: Server, file_server: str) -> None:
    with echo_server.http() as http:
        refused = http.post("/echo/predict", json={"file": f"{file_server}/blob"})
    assert refused.status_code == 422
    assert "--allow-url-inputs" in refused.json()["error"]["message"]


def test_an_allowed_url_is_fetched_by_the_worker_and_failures_say_why(
    shared: Callable[..., Server], file_server: str
) -> None:
    server = shared("--allow-url-inputs")
    with server.http() as http:
        fetched = http.post("/echo/predict", json={"file": f"{file_server}/blob"})
        assert fetched.status_code == 200, fetched.text
        assert fetched.json() == {
            "echo": {"file": {"size": len(BLOB), "sha256": hashlib.sha256(BLOB).hexdigest()}}
        }
        failures = {
            "answered 404": f"{file_server}/missing",
            "is a link-local address": "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is a link-local": f"{file_server}/redirect?to=http://169.254.169.254/x",
        }
        for reason, url in failures.items():
            failed = http.post("/echo/predict", json={"file": url})
            assert failed.status_code == 422, failed.text
            assert failed.json()["error"]["type"] == "invalid_input"
            assert reason in failed.json()["error"]["message"]
        not_a_url = http.post("/echo/predict", json={"file": "https://"})
        assert not_a_url.status_code == 422
