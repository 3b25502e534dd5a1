"""Retention: after the configured time inputs and outputs are gone from every file of the store."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Server, wait_until

ASYNC = {"X-OctoAI-Async": "1"}


def _store_files(server: Server) -> list[Path]:
    db = Path(server.backend.removeprefix("sqlite:///"))
    return [p for p in db.parent.iterdir() if p.name.startswith(db.name)]


# Files are SQLite's; Redis's key expiry is checked by SCAN in tests/backends/test_redis_only.py.
@pytest.mark.parametrize("backend_url", ["sqlite"], indirect=True)
def test_expired_requests_are_404_expired_and_no_file_holds_their_data(serve: Callable[..., Server]) -> None:
    server = serve("--retention", "2s")
    marker = f"secret-{secrets.token_hex(8)}"
    with server.http() as http:
        futures = [
            http.post("/echo/predict", json={"m": f"{marker}-{i}"}, headers=ASYNC).json() for i in range(20)
        ]
        for future in futures:
            state = http.get(future["poll_url"], params={"wait": 30}).json()
            assert marker in http.get(state["response_url"]).text
        assert any(marker.encode() in p.read_bytes() for p in _store_files(server))

        def expired() -> bool:
            return all(http.get(f["poll_url"]).status_code == 404 for f in futures)

        wait_until(expired, 30, "retention to delete the requests")
        gone = http.get(futures[0]["poll_url"]).json()["error"]
        response = http.get(f"{futures[0]['poll_url']}/response")
    assert gone["type"] == "expired"
    assert "expired" in gone["message"]
    assert response.status_code == 404
    wait_until(
        lambda: not any(marker.encode() in p.read_bytes() for p in _store_files(server)),
        10,
        "no store file to hold the data",
    )


def test_expires_at_is_in_every_status_and_moves_to_the_end(echo_server: Server) -> None:
    with echo_server.http() as http:
        accepted = http.post("/echo/predict", json={"delay_s": 0.2}, headers=ASYNC).json()
        pending = http.get(accepted["poll_url"]).json()
        done = http.get(accepted["poll_url"], params={"wait": 30}).json()
    assert pending["expires_at"] == accepted["expires_at"]
    assert done["expires_at"] > done["completed_at"]
    assert done["expires_at"] > accepted["expires_at"]
