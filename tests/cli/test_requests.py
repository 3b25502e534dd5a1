"""``inferq infer`` and ``inferq requests`` against a real server, with their exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inferq.cli.requests import parse_inputs
from tests.conftest import Server, free_port, inferq


def run(server: Server, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The command as a user with the server's URL and token in the environment runs it."""
    return inferq(
        *args, env={"INFERQ_URL": server.url, "INFERQ_TOKEN": server.token, **(env or {})}, check=False
    )


def submit(server: Server, *pairs: str) -> str:
    result = run(server, "infer", "echo", "--async", *(arg for pair in pairs for arg in ("-i", pair)))
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["response_id"])


def test_infer_takes_inputs_from_flags_and_a_json_file(echo_server: Server, tmp_path: Path) -> None:
    flags = run(
        echo_server, "infer", "echo", "-i", "word=hello", "-i", "n=3", "-i", "tags=[1, 2]", "-i", "x=null"
    )
    assert json.loads(flags.stdout) == {"echo": {"word": "hello", "n": 3, "tags": [1, 2], "x": None}}
    body = tmp_path / "body.json"
    body.write_text('{"a": 1, "b": "file"}')
    merged = run(echo_server, "infer", "echo", "--json-file", str(body), "-i", "b=flag")
    assert json.loads(merged.stdout) == {"echo": {"a": 1, "b": "flag"}}
    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferq",
            "infer",
            "echo",
            "--json-file",
            "-",
            "--url",
            echo_server.url,
            "--token",
            echo_server.token,
        ],
        input='{"from": "stdin"}',
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(piped.stdout) == {"echo": {"from": "stdin"}}


def test_an_async_request_is_followed_by_its_id(echo_server: Server) -> None:
    response_id = submit(echo_server, "hello=world")
    waited = run(echo_server, "requests", "wait", response_id, "--timeout", "30s")
    assert waited.returncode == 0, waited.stderr
    assert json.loads(waited.stdout) == {"echo": {"hello": "world"}}
    state = json.loads(run(echo_server, "requests", "show", response_id).stdout)
    assert state["status"] == "completed" and state["endpoint"] == "echo"
    listed = run(
        echo_server,
        "requests",
        "list",
        env={"INFERQ_TOKEN": "", "OCTOAI_TOKEN": echo_server.token},
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split()[:5] == ["response_id", "endpoint", "status", "created", "took"]
    row = next(line for line in listed.stdout.splitlines() if response_id in line)
    assert row.split()[1:3] == ["echo", "completed"]
    assert row.split()[-1].endswith("s")  # piped, nothing is cut: the last column is "took"
    for other in (["--status", "failed"], ["--endpoint", "whisper"]):
        filtered = run(echo_server, "requests", "list", *other)
        assert response_id not in filtered.stdout and "no requests" in filtered.stderr


def test_wait_and_cancel_exit_codes(echo_server: Server) -> None:
    done = submit(echo_server, "n=1")
    assert run(echo_server, "requests", "wait", done).returncode == 0
    slow = submit(echo_server, "delay_s=15")  # still running at the cancel, however slow the machine
    timed_out = run(echo_server, "requests", "wait", slow, "--timeout", "0.5")
    assert timed_out.returncode == 4 and "goes on" in timed_out.stderr
    cancelled = run(echo_server, "requests", "cancel", slow)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == f"cancelled {slow}"
    waited = run(echo_server, "requests", "wait", slow)
    assert waited.returncode == 1 and "cancelled" in waited.stderr and waited.stdout == ""
    too_late = run(echo_server, "requests", "cancel", done)
    assert too_late.returncode == 1 and "already ended as completed" in too_late.stderr


ERRORS = {
    "unknown request": (["requests", "show", "no_such_request"], {}, 3, "HTTP 404"),
    "unknown endpoint": (["infer", "nope", "-i", "a=1"], {}, 3, "HTTP 404"),
    "wrong token": (["requests", "list"], {"INFERQ_TOKEN": "iq_wrong"}, 3, "HTTP 401"),
    "no token": (["requests", "list"], {"INFERQ_TOKEN": "", "OCTOAI_TOKEN": ""}, 3, "no token"),
    "invalid input": (["infer", "echo", "-i", "delay_s=100"], {}, 1, "HTTP 422"),
}


def test_errors_are_one_line_with_their_exit_code(echo_server: Server) -> None:
    for case, (args, env, code, says) in ERRORS.items():
        result = run(echo_server, *args, env=env)
        assert result.returncode == code, case
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: "), (case, result.stderr)
        assert says in result.stderr, (case, result.stderr)


def test_an_unreachable_server_is_one_line_and_exit_3() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = inferq("requests", "list", "--url", url, "--token", "iq_any", check=False)
    assert result.returncode == 3
    assert result.stderr.startswith(f"Error: cannot reach {url}: ") and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    "command",
    ["transcribe", "infer", "requests", "requests list", "requests show", "requests cancel", "requests wait"],
)
def test_every_help_shows_examples_and_exit_codes(command: str) -> None:
    help_text = inferq(*command.split(), "--help", env={"COLUMNS": "100"}).stdout
    assert "Example" in help_text and f"inferq {command}" in help_text
    assert "Exit codes: 0 ok, 1 request failed" in help_text


def test_input_values_are_json_when_they_parse_and_strings_otherwise() -> None:
    pairs = ("s=en", "i=5", "f=0.5", "b=true", 'o={"k": 1}', "e=", "eq=a=b", 'q="5"')
    assert parse_inputs(None, pairs) == {
        "s": "en",
        "i": 5,
        "f": 0.5,
        "b": True,
        "o": {"k": 1},
        "e": "",
        "eq": "a=b",
        "q": "5",
    }


def test_a_server_that_is_not_inferq_is_named_so_in_one_line() -> None:
    import http.server
    import threading

    other = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{other.server_address[1]}"
    try:
        result = inferq("requests", "list", "--url", url, "--token", "iq_any", check=False)
    finally:
        other.shutdown()
        other.server_close()
    assert result.returncode == 3
    assert result.stderr == f"Error: not an inferq server at {url} (it answered HTTP 501)\n"
