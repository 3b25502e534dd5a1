"""The command line as a user meets it: first start, tokens, bad flags."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import free_port, inferq, wait_until


def test_first_start_prints_a_working_token_and_the_url(tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "serve.log"
    argv = [
        sys.executable,
        "-m",
        "inferq",
        "serve",
        "--endpoints",
        "echo",
        "--port",
        str(port),
        "--backend",
        f"sqlite:///{tmp_path / 'db'}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until(lambda: f"http://127.0.0.1:{port}" in log.read_text(), what="the URL")
        lines = log.read_text().splitlines()
        token = lines[lines.index(next(line for line in lines if "API token" in line)) + 1].strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
        ) as http:
            wait_until(lambda: http.get("/echo/healthcheck").status_code == 200, what="echo ready")
            assert http.post("/echo/predict", json={"hi": 1}).json() == {"echo": {"hi": 1}}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert proc.returncode == 0


def test_token_create_prints_the_token_alone_on_its_last_line_and_stores_only_a_hash(tmp_path: Path) -> None:
    backend = f"sqlite:///{tmp_path / 'db'}"
    token = inferq("token", "create", "--backend", backend, "--name", "ci").stdout.splitlines()[-1]
    assert token.startswith("iq_") and len(token) > 40
    listed = inferq("token", "list", "--backend", backend).stdout
    assert "ci" in listed and token not in listed
    assert token.encode() not in (tmp_path / "db").read_bytes()


def test_revoking_an_unknown_token_fails_clearly(tmp_path: Path) -> None:
    result = inferq("token", "revoke", "--backend", f"sqlite:///{tmp_path / 'db'}", "tok_nope", check=False)
    assert result.returncode != 0
    assert "no active token 'tok_nope'" in result.stderr


def test_bad_flags_name_what_is_wrong(tmp_path: Path) -> None:
    bad_backend = inferq("token", "list", "--backend", "mongo://x", check=False)
    assert "unknown scheme 'mongo'" in bad_backend.stderr
    bad_duration = inferq("serve", "--retention", "soon", check=False)
    assert "'soon' is not a duration" in bad_duration.stderr
    bad_endpoint = inferq("serve", "--endpoints", "llama", check=False)
    assert "endpoint 'llama' is not built in" in bad_endpoint.stderr
    backend = f"sqlite:///{tmp_path / 'inferq.db'}"
    for target, said in [
        ("x=os:system", "os:system is not a Service subclass"),
        ("x=nosuch:Thing", "cannot import nosuch"),
    ]:
        refused = inferq("serve", "--backend", backend, "--endpoints", target, check=False)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert not (tmp_path / "inferq.db").exists()  # refused before a store was made or a token minted


def test_every_flag_reads_from_the_environment(tmp_path: Path) -> None:
    backend = f"sqlite:///{tmp_path / 'env.db'}"
    inferq("token", "create", env={"INFERQ_BACKEND": backend})
    assert (tmp_path / "env.db").exists()


def test_version_names_the_installed_release() -> None:
    from inferq import __version__

    shown = inferq("--version")
    assert shown.stdout.strip() == f"inferq, version {__version__}"


def test_a_port_in_use_is_said_at_once_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        backend = f"sqlite:///{tmp_path / 'inferq.db'}"
        refused = inferq(
            "serve", "--endpoints", "echo", "--backend", backend, "--port", str(port), check=False
        )
    assert refused.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in refused.stderr
    assert (
        f"--port {port + 1}" in refused.stderr and f"INFERQ_URL=http://127.0.0.1:{port + 1}" in refused.stderr
    )
    assert "serving" not in refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (tmp_path / "inferq.db").exists()  # no store created, no token minted
