"""Files through the public surface: uploaded to ``/v1/files`` or sent as multipart parts,
referred to as ``inferq://files/<id>``, read back, listed, owned by their token, and gone
(every byte of them, as the store shows) once deleted.

Run on each backend with each blob store (tests/files/conftest.py); ``echo`` answers a
file input with its size and SHA-256, so what the model got is checked byte for byte.
"""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable

import httpx

from tests.conftest import chosen
from tests.files.conftest import FileServer
from tests.servers import occupy, wait_until
from tests.shared_servers import SharedServers


def _payload(size: int = 300_000) -> bytes:
    return os.urandom(size)


def _summary(data: bytes) -> dict[str, object]:
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _upload(http: httpx.Client, data: bytes, name: str = "clip.bin") -> dict[str, object]:
    made = http.post("/v1/files", files={"file": (name, data, "application/octet-stream")})
    assert made.status_code == 201, made.text
    doc: dict[str, object] = made.json()
    return doc


def test_an_uploaded_file_is_described_read_back_and_used_by_reference(files: FileServer) -> None:
    data = _payload()
    with files.server.http() as http:
        doc = _upload(http, data, "talk.wav")
        assert {k: doc[k] for k in ("size", "sha256", "filename")} == {
            **_summary(data),
            "filename": "talk.wav",
        }
        assert http.get(f"/v1/files/{doc['id']}").json() == doc
        assert http.get(f"/v1/files/{doc['id']}/content").content == data
        assert [f["id"] for f in http.get("/v1/files").json()["results"]] == [doc["id"]]
        used = http.post("/echo/predict", json={"file": f"inferq://files/{doc['id']}", "note": "hi"})
        assert used.status_code == 200, used.text
        assert used.json() == {"echo": {"file": _summary(data), "note": "hi"}}


def test_a_raw_body_upload_keeps_its_media_type_and_name(files: FileServer) -> None:
    data = _payload(1000)
    with files.server.http() as http:
        made = http.post("/v1/files?filename=a.ogg", content=data, headers={"Content-Type": "audio/ogg"})
        assert made.status_code == 201, made.text
        assert made.json()["content_type"] == "audio/ogg"
        assert made.json()["filename"] == "a.ogg"
        got = http.get(f"/v1/files/{made.json()['id']}/content")
        assert got.headers["content-type"] == "audio/ogg"
        assert got.content == data


def test_multipart_predict_streams_the_file_and_takes_the_other_inputs_as_fields(files: FileServer) -> None:
    data = _payload()
    with files.server.http() as http:
        sync = http.post(
            "/echo/predict", files={"file": ("x.bin", data)}, data={"note": "hi", "delay_s": "0.01"}
        )
        assert sync.status_code == 200, sync.text
        # a field the endpoint types (delay_s: float) arrives typed; an untyped one as text
        assert sync.json() == {"echo": {"delay_s": 0.01, "file": _summary(data), "note": "hi"}}
        queued = http.post(
            "/echo/predict",
            files={
                "file": ("x.bin", data),
                "json": (None, '{"n": 3, "nested": {"a": [1]}}', "application/json"),
            },
            headers={"Prefer": "respond-async"},
        )
        assert queued.status_code == 202, queued.text
        done = http.get(f"/v1/requests/{queued.json()['response_id']}?wait=30").json()
        assert done["status"] == "completed", done
        answer = http.get(f"/v1/requests/{queued.json()['response_id']}/response").json()
        assert answer == {"echo": {"file": _summary(data), "n": 3, "nested": {"a": [1]}}}


def test_a_file_is_its_owners_alone(files: FileServer) -> None:
    with files.server.http() as http:
        doc = _upload(http, _payload(1000))
    with files.server.http(token=files.server.new_token("other")) as other:
        for path in (f"/v1/files/{doc['id']}", f"/v1/files/{doc['id']}/content"):
            assert other.get(path).status_code == 404
        assert other.delete(f"/v1/files/{doc['id']}").status_code == 404
        assert other.get("/v1/files").json()["results"] == []
        used = other.post("/echo/predict", json={"file": f"inferq://files/{doc['id']}"})
        assert used.status_code == 422
        assert used.json()["error"]["field"] == "file"


def test_deleting_a_file_leaves_no_byte_of_it_in_the_store(files: FileServer) -> None:
    data = _payload()
    with files.server.http() as http:
        doc = _upload(http, data)
        assert files.store.holds(data)
        deleted = http.delete(f"/v1/files/{doc['id']}")
        assert deleted.status_code == 200, deleted.text
        assert http.get(f"/v1/files/{doc['id']}").status_code == 404
        used = http.post("/echo/predict", json={"file": f"inferq://files/{doc['id']}"})
        assert used.status_code == 422
    assert not files.store.holds(data)


def test_expired_files_are_swept_with_their_bytes(files_on: Callable[..., FileServer]) -> None:
    data = _payload()
    files = files_on("--retention", "2s")
    with files.server.http() as http:
        doc = _upload(http, data)
        assert files.store.holds(data)
        wait_until(lambda: not files.store.holds(data), 30, "the expired file's bytes to be deleted")
        assert http.get(f"/v1/files/{doc['id']}").status_code == 404


def test_an_upload_over_the_limit_is_refused_while_it_streams(files_on: Callable[..., FileServer]) -> None:
    files = files_on("--max-upload", "1M")
    data = _payload(3 << 20)
    with files.server.http() as http:
        for call in (
            lambda: http.post("/v1/files", files={"file": ("big.bin", data)}),
            lambda: http.post("/echo/predict", files={"file": ("big.bin", data)}),
        ):
            refused = call()
            assert refused.status_code == 413, refused.text
            assert "1048576" in refused.json()["error"]["message"]
        assert http.get("/v1/files").json()["results"] == []
    assert not files.store.holds(data)


def test_a_client_gone_mid_upload_leaves_no_file_and_no_bytes(files: FileServer) -> None:
    head = _payload(200_000)
    boundary = "cutoff"
    start = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    request = (
        f"POST /v1/files HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {files.server.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {10 << 20}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", files.server.port)) as sock:
        sock.sendall(request + start + head)
    with files.server.http() as http:
        wait_until(lambda: not files.store.holds(head), 30, "the cut-off upload's bytes to be gone")
        assert http.get("/v1/files").json()["results"] == []


def test_bad_multipart_bodies_are_refused_by_name(files: FileServer) -> None:
    with files.server.http() as http:
        not_a_file_input = http.post("/echo/predict", files={"note": ("x.txt", b"hi")})
        assert not_a_file_input.status_code == 422
        assert "not a file input" in not_a_file_input.json()["error"]["message"]
        cut = http.post(
            "/echo/predict",
            content=b'--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nxx',
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        assert cut.status_code == 400, cut.text
        no_boundary = http.post(
            "/echo/predict", content=b"x", headers={"Content-Type": "multipart/form-data"}
        )
        assert no_boundary.status_code == 400
        twice = http.post("/echo/predict", files=[("file", ("a", b"1")), ("file", ("b", b"2"))])
        assert twice.status_code == 422
        assert http.get("/v1/files").json()["results"] == []


def test_a_replayed_multipart_submit_is_the_same_request_and_keeps_one_file(files: FileServer) -> None:
    data = _payload(5000)
    headers = {"Prefer": "respond-async", "Idempotency-Key": "upload-1"}
    with files.server.http() as http:
        first = http.post("/echo/predict", files={"file": ("x", data)}, headers=headers)
        again = http.post("/echo/predict", files={"file": ("x", data)}, headers=headers)
        assert first.status_code == again.status_code == 202, again.text
        assert first.json()["response_id"] == again.json()["response_id"]
        assert len(http.get("/v1/files").json()["results"]) == 1
        other = http.post("/echo/predict", files={"file": ("x", data + b"!")}, headers=headers)
        assert other.status_code == 409, other.text


def test_a_batch_refers_to_uploaded_files(files: FileServer) -> None:
    blobs = [_payload(1000), _payload(2000)]
    with files.server.http() as http:
        ids = [_upload(http, blob)["id"] for blob in blobs]
        batch = http.post("/echo/batch", json={"inputs": [{"file": f"inferq://files/{i}"} for i in ids]})
        assert batch.status_code == 202, batch.text
        answers = []
        for future in batch.json()["results"]:
            http.get(f"/v1/requests/{future['response_id']}?wait=30")
            answers.append(http.get(f"/v1/requests/{future['response_id']}/response").json())
        assert answers == [{"echo": {"file": _summary(blob)}} for blob in blobs]
        missing = http.post("/echo/batch", json={"inputs": [{"file": "inferq://files/file_" + "0" * 32}]})
        assert missing.status_code == 422
        assert missing.json()["error"]["field"] == "inputs[0].file"


def test_without_a_blob_store_files_travel_inline_up_to_the_body_limit(shared_servers: SharedServers) -> None:
    """Redis alone has nowhere to put a file but the queue."""
    chosen("redis")
    server = shared_servers.tenant("redis", ("--max-body", "1048576"))
    small, large = _payload(10_000), _payload(2 << 20)
    with server.http() as http:
        inline = http.post("/echo/predict", files={"file": ("x", small)})
        assert inline.status_code == 200, inline.text
        assert inline.json() == {"echo": {"file": _summary(small)}}
        for call in (
            lambda: http.post("/echo/predict", files={"file": ("x", large)}),
            lambda: http.post("/v1/files", files={"file": ("x", small)}),
        ):
            refused = call()
            assert refused.status_code == 413, refused.text
            assert "--blob-store" in refused.json()["error"]["message"]


def test_a_requests_own_files_go_with_it_and_serve_no_other(files: FileServer) -> None:
    data = _payload()
    with files.server.http() as http:
        queued = http.post("/echo/predict", files={"file": ("x", data)}, headers={"Prefer": "respond-async"})
        assert queued.status_code == 202, queued.text
        sent = queued.json()
        http.get(f"/v1/requests/{sent['response_id']}?wait=30")
        (part,) = http.get("/v1/files").json()["results"]
        assert part["purpose"] == "request"
        reused = http.post("/echo/predict", json={"file": f"inferq://files/{part['id']}"})
        assert reused.status_code == 422
        assert "POST /v1/files" in reused.json()["error"]["message"]
        kept = _upload(http, _payload(100))
        assert kept["purpose"] == "upload"
        assert files.store.holds(data)
        assert http.delete(f"/v1/requests/{sent['response_id']}").status_code == 200
        assert [f["id"] for f in http.get("/v1/files").json()["results"]] == [kept["id"]]
    assert not files.store.holds(data)


def test_a_multipart_batch_sends_each_inputs_files_as_parts(files: FileServer) -> None:
    blobs = [_payload(3000), _payload(4000)]
    parts = [
        ("json", (None, '{"inputs": [{"n": 0}, {"n": 1}]}', "application/json")),
        ("inputs[1].file", ("b", blobs[1])),
        ("inputs[0].file", ("a", blobs[0])),
    ]
    headers = {"Idempotency-Key": "batch-1"}
    with files.server.http() as http:
        batch = http.post("/echo/batch", files=parts, headers=headers)
        assert batch.status_code == 202, batch.text
        answers = []
        for future in batch.json()["results"]:
            http.get(f"/v1/requests/{future['response_id']}?wait=30")
            answers.append(http.get(f"/v1/requests/{future['response_id']}/response").json())
        assert answers == [{"echo": {"file": _summary(blob), "n": n}} for n, blob in enumerate(blobs)]
        again = http.post("/echo/batch", files=parts, headers=headers)
        assert [f["response_id"] for f in again.json()["results"]] == [
            f["response_id"] for f in batch.json()["results"]
        ]
        assert len(http.get("/v1/files").json()["results"]) == 2
        for bad in (
            [("json", (None, '{"inputs": [{}]}', "application/json")), ("inputs[3].file", ("x", b"1"))],
            [("json", (None, '{"inputs": [{}]}', "application/json")), ("note", (None, "hi"))],
        ):
            refused = http.post("/echo/batch", files=bad)
            assert refused.status_code == 422, refused.text
        assert len(http.get("/v1/files").json()["results"]) == 2


def test_a_retry_uses_the_files_that_came_with_its_original(files: FileServer) -> None:
    data = _payload()
    with files.server.http() as http:
        occupy(http, 1)
        queued = http.post("/echo/predict", files={"file": ("x", data)}, headers={"Prefer": "respond-async"})
        original = queued.json()["response_id"]
        http.post(f"/v1/requests/{original}/cancel")
        retry = http.post(f"/v1/requests/{original}/retry")
        assert retry.status_code == 202, retry.text
        done = http.get(f"/v1/requests/{retry.json()['response_id']}", params={"wait": 30}).json()
        assert done["status"] == "completed", done
        assert http.get(done["response_url"]).json() == {"echo": {"file": _summary(data)}}
        assert [f["purpose"] for f in http.get("/v1/files").json()["results"]] == [
            "request"
        ]  # still one file
