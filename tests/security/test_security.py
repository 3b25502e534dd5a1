"""Security promises, checked through the command line and HTTP on real servers.

What each test stands for is listed in SECURITY.md. Tokens: high entropy, shown once,
stored hashed, refused when altered anywhere, revoked at once on every gateway.
Response ids: 128 random bits, no collisions. Tenants: isolated on every route,
including the cursor and filters of the listing, idempotency keys and expired
requests. Logs: no token, input or output in any line, even when a model raises with
its inputs in the message. The server never fetches a URL found in request inputs.

tests/gateway/test_auth.py holds the basic cases (no token, another tenant's request on
each route, revocation on one gateway); these tests extend them, not repeat them.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import math
import re
import secrets
import struct
import threading
import time
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SERVICES, Server, free_port, inferq, occupy, wait_until
from tests.store import stored_bytes

ASYNC = {"X-OctoAI-Async": "1"}
RAISES = f"raises={SERVICES / 'raises.py'}:Raises"
TOKEN = re.compile(r"^iq_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
RESPONSE_ID = re.compile(r"^[a-z2-7]{42}$")  # base32 of 16 random bytes + a 10-byte MAC
TERMINAL = {"completed", "failed", "cancelled"}


# tokens ----------------------------------------------------------------------------


def test_tokens_carry_256_random_bits_and_never_repeat(echo_server: Server) -> None:
    tokens = [echo_server.new_token(f"t{i}") for i in range(8)]
    secrets_part = []
    for token in tokens:
        match = TOKEN.match(token)
        assert match, f"unexpected token format: {token[:6]}..."
        raw = base64.urlsafe_b64decode(match.group(2) + "=")
        assert len(raw) == 32  # 256 bits after the prefix and the 48-bit id
        secrets_part.append(raw)
    assert len(set(tokens)) == len(tokens)
    assert len({raw[:8] for raw in secrets_part}) == len(tokens)
    assert len({TOKEN.match(t).group(1) for t in tokens}) == len(tokens)  # type: ignore[union-attr]


def test_tokens_are_stored_only_as_hashes(echo_server: Server) -> None:
    tokens = [echo_server.new_token(f"t{i}") for i in range(3)]
    stored = stored_bytes(echo_server.backend)
    listed = inferq("token", "list", "--backend", echo_server.backend).stdout
    for token in tokens:
        secret = TOKEN.match(token).group(2)  # type: ignore[union-attr]
        assert token.encode() not in stored and secret.encode() not in stored
        assert secret[:16].encode() not in stored
        assert hashlib.sha256(token.encode()).hexdigest().encode() in stored  # what is kept instead
        assert secret not in listed  # `token list` shows ids and names only


def test_the_first_token_is_shown_once_at_first_start(backend_url: str, tmp_path: Path) -> None:
    """On an empty store ``serve`` prints a first token (its only showing); never again."""
    first = Server(backend_url, ["--endpoints", "echo", "--no-workers"], tmp_path / "first.log", token="-")
    first.start()
    first.stop()
    printed = [line for line in first.log().splitlines() if TOKEN.match(line.strip())]
    assert len(printed) == 1
    token = printed[0].strip()
    second = Server(
        backend_url, ["--endpoints", "echo", "--no-workers"], tmp_path / "second.log", token=token
    )
    second.start()
    try:
        with second.http() as http:
            assert http.get("/v1/requests").status_code == 200
    finally:
        second.stop()
    assert not re.search(r"iq_[0-9a-f]{12}_", second.log())


def test_a_token_altered_in_any_character_is_refused(echo_server: Server) -> None:
    token = echo_server.token
    with echo_server.anonymous() as http:
        assert http.get("/v1/requests", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        for i, char in enumerate(token):
            other = "A" if char != "A" else "B"
            altered = token[:i] + other + token[i + 1 :]
            answer = http.get("/v1/requests", headers={"Authorization": f"Bearer {altered}"})
            assert answer.status_code == 401, f"a token altered at {i} was accepted"
        for wrong in (token[:-1], token + "x", token.upper(), f"Basic {token}"):
            headers = {"Authorization": wrong if wrong.startswith("Basic") else f"Bearer {wrong}"}
            assert http.get("/v1/requests", headers=headers).status_code == 401


def test_revocation_is_immediate_on_every_route_of_every_gateway(serve: Callable[..., Server]) -> None:
    first = serve()
    second = serve("--no-workers")  # another gateway on the same store
    token = first.new_token("to-revoke")
    with first.http(token=token) as http:
        future = http.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        assert http.get(future["poll_url"], params={"wait": 30}).json()["status"] == "completed"
    rid = future["response_id"]
    calls = [
        ("POST", "/echo/predict", {"x": 2}),
        ("GET", "/echo/healthcheck", None),
        ("GET", "/v1/requests", None),
        ("GET", f"/v1/requests/{rid}", None),
        ("GET", f"/v1/requests/{rid}/response", None),
        ("POST", f"/v1/requests/{rid}/cancel", None),
        ("GET", "/openapi.json", None),
        ("GET", "/v1/endpoints", None),
        ("GET", "/metrics", None),
        ("GET", "/docs", None),
        ("DELETE", f"/v1/requests/{rid}", None),
    ]
    for gateway in (first, second):
        with gateway.http(token=token) as http:
            for method, path, body in calls:
                assert http.request(method, path, json=body).status_code != 401, path
    token_id = "tok_" + TOKEN.match(token).group(1)  # type: ignore[union-attr]
    inferq("token", "revoke", "--backend", first.backend, token_id)
    for gateway in (first, second):
        with gateway.http(token=token) as http:
            for method, path, body in calls:
                answer = http.request(method, path, json=body)
                assert answer.status_code == 401, f"{gateway.url}{path} still served a revoked token"
                assert rid not in answer.text


# response ids -----------------------------------------------------------------------


def test_response_ids_carry_128_random_bits(echo_server: Server) -> None:
    with echo_server.http() as http:
        ids = [
            http.post("/echo/predict", json={"i": i}, headers=ASYNC).json()["response_id"]
            for i in range(1000)
        ]
    assert len(set(ids)) == len(ids)
    nonces = []
    for response_id in ids:
        assert RESPONSE_ID.match(response_id), response_id
        raw = base64.b32decode(response_id.upper() + "=" * (-len(response_id) % 8))
        assert len(raw) == 26
        nonces.append(int.from_bytes(raw[:16], "big"))
    assert len(set(nonces)) == len(nonces)
    ones = sum(n.bit_count() for n in nonces) / (128 * len(nonces))
    assert 0.47 < ones < 0.53, ones  # a counter or a timestamp would be far off
    for bit in range(128):  # and every one of the 128 bits varies
        share = sum((n >> bit) & 1 for n in nonces) / len(nonces)
        assert 0.35 < share < 0.65, (bit, share)


B32 = "abcdefghijklmnopqrstuvwxyz234567"


def _with_char(response_id: str, index: int, flip: int) -> str:
    """``response_id`` with the 5-bit value of one character XORed with ``flip``."""
    char = B32[B32.index(response_id[index]) ^ flip]
    return response_id[:index] + char + response_id[index + 1 :]


def test_a_tampered_id_is_a_plain_404(echo_server: Server) -> None:
    with echo_server.http() as http:
        rid = http.post("/echo/predict", json={}, headers=ASYNC).json()["response_id"]
        # one data bit flipped in the nonce, in the middle, and in the MAC's last character
        for tampered in (_with_char(rid, 0, 1), _with_char(rid, 20, 4), _with_char(rid, 41, 16)):
            answer = http.get(f"/v1/requests/{tampered}")
            assert answer.status_code == 404
            assert answer.json()["error"]["type"] == "not_found"


def test_another_spelling_of_a_live_id_is_not_called_expired(echo_server: Server) -> None:
    with echo_server.http() as http:
        rid = http.post("/echo/predict", json={}, headers=ASYNC).json()["response_id"]
        assert http.get(f"/v1/requests/{rid}").status_code == 200
        for alias in (rid.upper(), _with_char(rid, 41, 1)):
            answer = http.get(f"/v1/requests/{alias}")
            assert answer.status_code == 200 or answer.json()["error"]["type"] == "not_found", (
                alias,
                answer.text,
            )


# tenant isolation -------------------------------------------------------------------


def test_another_tenant_cannot_learn_the_state_of_or_cancel_a_pending_request(echo_server: Server) -> None:
    marker = f"private-{secrets.token_hex(6)}"
    other = echo_server.new_token("other")
    with echo_server.http() as mine, echo_server.http(token=other) as theirs:
        busy = occupy(mine, 1.5)
        queued = mine.post("/echo/predict", json={"secret": marker}, headers=ASYNC).json()
        started = time.monotonic()
        answers = [
            theirs.get(queued["poll_url"]),
            theirs.get(queued["poll_url"], params={"wait": 5}),  # must not hold either
            theirs.get(f"{queued['poll_url']}/response"),  # 404, not the owner's 409
            theirs.post(f"{queued['poll_url']}/cancel"),
            theirs.delete(queued["poll_url"]),  # 404, not the owner's 409 (still active)
        ]
        assert time.monotonic() - started < 3
        for answer in answers:
            assert answer.status_code == 404
            assert answer.json()["error"]["type"] == "not_found"
            assert marker not in answer.text
        done = mine.get(queued["poll_url"], params={"wait": 30}).json()
        assert done["status"] == "completed"  # the foreign cancel changed nothing
        assert mine.get(f"{queued['poll_url']}/response").json() == {"echo": {"secret": marker}}
        mine.get(busy["poll_url"], params={"wait": 30})


def test_listing_filters_and_cursors_stay_within_the_tenant(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    with echo_server.http() as mine, echo_server.http(token=other) as theirs:
        ids = [
            mine.post("/echo/predict", json={"i": i}, headers=ASYNC).json()["response_id"] for i in range(3)
        ]
        for rid in ids:
            mine.get(f"/v1/requests/{rid}", params={"wait": 30})
        for params in (
            {},
            {"status": "completed"},
            {"endpoint": "echo"},
            {"limit": 1},
            {"before": ids[-1]},
            {"before": ids[-1], "status": "completed", "limit": 200},
        ):
            page = theirs.get("/v1/requests", params=params).json()
            assert page == {"results": [], "next": None}, params
        for rid in ids:  # finished, so the owner could delete them; another tenant cannot
            refused = theirs.delete(f"/v1/requests/{rid}")
            assert (refused.status_code, refused.json()["error"]["type"]) == (404, "not_found")
        mine_page = mine.get("/v1/requests", params={"before": ids[-1]}).json()
        assert [r["response_id"] for r in mine_page["results"]] == ids[-2::-1]


def test_idempotency_keys_belong_to_their_tenant(echo_server: Server) -> None:
    other = echo_server.new_token("other")
    key = {"Idempotency-Key": f"key-{secrets.token_hex(4)}", **ASYNC}
    with echo_server.http() as mine, echo_server.http(token=other) as theirs:
        a = mine.post("/echo/predict", json={"body": 1}, headers=key)
        b = theirs.post("/echo/predict", json={"body": 1}, headers=key)  # same key, same body
        assert (a.status_code, b.status_code) == (202, 202)
        assert a.json()["response_id"] != b.json()["response_id"]
        clash = theirs.post("/echo/predict", json={"body": 2}, headers=key)  # another body: their own 409
        assert clash.status_code == 409
        assert a.json()["response_id"] not in clash.text
        assert clash.json()["error"].get("response_id") in (None, b.json()["response_id"])
        again = mine.post("/echo/predict", json={"body": 1}, headers=key)
        assert again.json()["response_id"] == a.json()["response_id"]


def test_an_expired_request_reads_as_expired_to_its_owner_only(serve: Callable[..., Server]) -> None:
    server = serve("--retention", "1s")
    other = server.new_token("other")
    with server.http() as mine, server.http(token=other) as theirs:
        future = mine.post("/echo/predict", json={"x": 1}, headers=ASYNC).json()
        mine.get(future["poll_url"], params={"wait": 30})
        wait_until(lambda: mine.get(future["poll_url"]).status_code == 404, 30, "the request to expire")
        assert mine.get(future["poll_url"]).json()["error"]["type"] == "expired"
        for answer in (
            theirs.get(future["poll_url"]),
            theirs.get(f"{future['poll_url']}/response"),
            theirs.post(f"{future['poll_url']}/cancel"),
            theirs.delete(future["poll_url"]),
        ):
            assert answer.status_code == 404
            assert answer.json()["error"]["type"] == "not_found"
            assert "expire" not in answer.json()["error"]["message"]


# logs -------------------------------------------------------------------------------


def test_no_token_input_or_output_reaches_the_logs(serve: Callable[..., Server]) -> None:
    """Every kind of call, with unique markers in inputs, at debug level; then search the log."""
    server = serve(endpoints=f"{RAISES},echo", env={"INFERQ_LOG_LEVEL": "debug"})
    other = server.new_token("other")
    mark = {
        name: f"{name}{secrets.token_hex(8)}"
        for name in (
            "key",
            "value",
            "asyncvalue",
            "raiseskey",
            "asyncraiseskey",
            "badvalue",
            "badjson",
            "idem",
            "bogus",
        )
    }
    with server.http() as http, server.http(token=other) as theirs:
        sync = http.post("/echo/predict", json={mark["key"]: mark["value"]})
        assert sync.json() == {"echo": {mark["key"]: mark["value"]}}
        future = http.post("/echo/predict", json={"v": mark["asyncvalue"]}, headers=ASYNC).json()
        http.get(future["poll_url"], params={"wait": 30})
        assert mark["asyncvalue"] in http.get(f"{future['poll_url']}/response").text
        assert theirs.get(future["poll_url"]).status_code == 404
        # A model that raises with its input names in the message: the owner sees it in the
        # API error; the log says only that it failed.
        raised = http.post("/raises/predict", json={mark["raiseskey"]: 1})
        assert raised.status_code == 502 and mark["raiseskey"] in raised.json()["error"]["message"]
        failed = http.post("/raises/predict", json={mark["asyncraiseskey"]: 1}, headers=ASYNC).json()
        state = http.get(failed["poll_url"], params={"wait": 30}).json()
        assert state["status"] == "failed" and mark["asyncraiseskey"] in state["error"]["message"]
        assert http.post("/echo/predict", json={"delay_s": mark["badvalue"]}).status_code == 422
        bad_json = b'{"x": "' + mark["badjson"].encode()
        assert (
            http.post(
                "/echo/predict", content=bad_json, headers={"Content-Type": "application/json"}
            ).status_code
            == 400
        )
        keyed = {"Idempotency-Key": mark["idem"], **ASYNC}
        assert http.post("/echo/predict", json={"a": 1}, headers=keyed).status_code == 202
        assert http.post("/echo/predict", json={"a": 2}, headers=keyed).status_code == 409
        bogus = f"iq_000000000000_{mark['bogus']}"
        assert http.get("/v1/requests", headers={"Authorization": f"Bearer {bogus}"}).status_code == 401
        assert http.get("/v1/requests").status_code == 200
    server.stop()  # flush every process's output
    log = server.log()
    assert "worker" in log  # the log is there, at debug level
    secret_things = [*mark.values(), server.token, other, TOKEN.match(server.token).group(2)]  # type: ignore[union-attr]
    leaked = [thing for thing in secret_things if thing in log]
    assert not leaked, f"in the log: {leaked}"


# URLs in inputs are never fetched ------------------------------------------------


class _Canary(http.server.ThreadingHTTPServer):
    """An HTTP server that counts every connection made to it, HTTP or not."""

    daemon_threads = True

    def __init__(self) -> None:
        self.hits: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"RIFF")

            do_POST = do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.hits.append(str(client_address))
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def canary() -> Iterator[_Canary]:
    server = _Canary()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url_inputs(base: str) -> dict[str, Any]:
    return {
        "url": f"{base}/canary",
        "image_url": f"{base}/image.png",
        "audio": f"{base}/audio.wav",
        "callback_url": f"{base}/callback",
        "webhook": f"{base}/webhook",
        "nested": {"href": f"{base}/nested", "list": [f"{base}/in-a-list"]},
    }


def test_echo_never_fetches_urls_in_inputs(echo_server: Server, canary: _Canary) -> None:
    inputs = _url_inputs(canary.url)
    headers = {"Callback-Url": f"{canary.url}/header", "X-Webhook-Url": f"{canary.url}/header"}
    with echo_server.http() as http:
        assert http.post("/echo/predict", json=inputs, headers=headers).json() == {"echo": inputs}
        future = http.post("/echo/predict", json=inputs, headers={**ASYNC, **headers}).json()
        assert http.get(future["poll_url"], params={"wait": 30}).json()["status"] == "completed"
        assert http.get(f"{future['poll_url']}/response").json() == {"echo": inputs}
    time.sleep(0.5)
    assert canary.hits == []


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _tone_wav(seconds: float = 1.0, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate)))
        out.writeframes(b"".join(struct.pack("<h", f) for f in frames))
    return buffer.getvalue()


def test_whisper_never_fetches_urls_in_inputs(whisper_server: Server, canary: _Canary) -> None:
    """A URL as the audio, in the prompt, or inside a playlist an audio decoder could follow."""
    base = canary.url
    playlists = {
        "hls": f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n{base}/segment.ts\n#EXT-X-ENDLIST\n",
        "hls-variant": f"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n{base}/variant.m3u8\n",
        "ffconcat": f"ffconcat version 1.0\nfile '{base}/part.wav'\n",
    }
    cases = [
        {"audio": f"{base}/speech.wav"},
        {"audio": f"data:audio/wav;base64,{_b64(f'{base}/x.wav'.encode())}"},
        *({"audio": _b64(text.encode())} for text in playlists.values()),
        *(
            {"audio": f"data:application/x-mpegurl;base64,{_b64(text.encode())}"}
            for text in playlists.values()
        ),
        {"audio": _b64(_tone_wav()), "prompt": f"see {base}/prompt.txt"},
        {"audio": _b64(_tone_wav()), "url": f"{base}/extra"},
    ]
    with whisper_server.http() as http:
        for inputs in cases:
            answer = http.post("/whisper/predict", json=inputs)
            assert answer.status_code in (200, 422), answer.text
            future = http.post("/whisper/predict", json=inputs, headers=ASYNC)
            if future.status_code == 202:
                http.get(future.json()["poll_url"], params={"wait": 60})
    time.sleep(0.5)
    assert canary.hits == []


def _udp_ports_bound() -> set[int]:
    ports: set[int] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local = line.split()[1]
            ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


@pytest.mark.skipif(not Path("/proc/net/udp").exists(), reason="needs Linux /proc/net/udp")
def test_audio_cannot_make_the_worker_open_network_sockets(whisper_server: Server) -> None:
    """Last in the module: while the bug stands, the request holds the whisper worker for 20 s."""
    port = free_port() & ~1
    while {port, port + 1} & _udp_ports_bound():
        port = free_port() & ~1
    sdp = f"v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio {port} RTP/AVP 0\n"
    with whisper_server.http() as http:
        future = http.post("/whisper/predict", json={"audio": _b64(sdp.encode())}, headers=ASYNC).json()
        bound: set[int] = set()
        status = "pending"
        try:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and status not in TERMINAL:
                bound |= _udp_ports_bound() & {port, port + 1}
                status = http.get(future["poll_url"]).json()["status"]
                time.sleep(0.05)
            assert not bound, f"the worker bound UDP port(s) {sorted(bound)} named by the request's audio"
            assert status == "failed", "an undecodable file should fail at once"
        finally:
            http.get(future["poll_url"], params={"wait": 60})  # leave the worker free
