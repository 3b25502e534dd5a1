"""``inferq infer`` and ``inferq requests``: run an inference, and follow requests by id."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import IO, Any

import click
from rich.console import Console
from rich.table import Table

from inferq.cli.client import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    CLIClient,
    client_options,
    reuse_option,
    scheduling_options,
)
from inferq.cli.params import DURATION
from inferq.domain.status import Status
from inferq.errors import APIError

STATUSES = [status.value for status in Status]


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def parse_inputs(json_file: IO[str] | None, pairs: tuple[str, ...]) -> dict[str, Any]:
    """The inputs: the JSON file's object, then each ``key=value`` on top of it.

    A value is JSON when it parses as JSON (``5``, ``true``, ``[1, 2]``, ``null``) and a
    string otherwise, so ``language=en`` needs no quotes.
    """
    inputs = _json_object(json_file) if json_file is not None else {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint="-i/--input")
        inputs[key] = _value(raw)
    return inputs


def _json_object(file: IO[str]) -> dict[str, Any]:
    try:
        inputs = json.load(file)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--json-file") from None
    if not isinstance(inputs, dict):
        raise click.BadParameter("must hold a JSON object", param_hint="--json-file")
    return inputs


def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("endpoint")
@click.option(
    "-i",
    "--input",
    "pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="An input; VALUE is JSON if it parses, else a string. Repeat for more.",
)
@click.option(
    "--json-file",
    type=click.File("r"),
    metavar="FILE|-",
    help="Inputs as a JSON object, from FILE or '-' for stdin; -i adds to them.",
)
@click.option("--async", "is_async", is_flag=True, help="Queue it and print the future instead of waiting.")
@scheduling_options
@reuse_option
@client_options
def infer(
    client: CLIClient,
    endpoint: str,
    pairs: tuple[str, ...],
    json_file: IO[str] | None,
    is_async: bool,
    scheduling: dict[str, Any],
) -> None:
    """Run an inference on ENDPOINT and print its outputs as JSON.

    \b
    Examples:
      inferq infer echo -i hello=world -i n=3         # {"echo": {"hello": "world", "n": 3}}
      inferq infer whisper --json-file body.json
      echo '{"delay_s": 5}' | inferq infer echo --json-file - --async
      inferq infer echo -i n=1 --async --priority low --deadline 10m --retention 1h
      inferq requests wait <response_id>              # collect an --async one later
    """
    inputs = parse_inputs(json_file, pairs)
    if is_async:
        future = client.infer_async(endpoint, inputs, **scheduling)
        echo_json({"response_id": future.response_id, "poll_url": future.poll_url})
    else:
        echo_json(client.infer(endpoint, inputs, **scheduling))


@click.group(epilog=EXIT_CODES_HELP)
def requests() -> None:
    """List your requests, show one, cancel it, retry it or wait for its result.

    \b
    Examples:
      inferq requests list --status failed
      inferq requests show <response_id>
      inferq requests wait <response_id> --timeout 5m
      inferq requests cancel <response_id>
      inferq requests retry <response_id>
    """


@requests.command("list", epilog=EXIT_CODES_HELP)
@click.option("--status", type=click.Choice(STATUSES), help="Only requests in this state.")
@click.option("--endpoint", help="Only requests to this endpoint.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True, help="Newest N.")
@client_options
def requests_list(client: CLIClient, status: str | None, endpoint: str | None, limit: int) -> None:
    """Your newest requests as a table (other tokens' requests are never shown).

    \b
    Examples:
      inferq requests list
      inferq requests list --status running --endpoint whisper --limit 50
    """
    rows = client.list_requests(status=status, endpoint=endpoint, limit=limit)
    if not rows:
        click.echo("no requests", err=True)
        return
    # Piped, the table is as wide as it needs: rich would cut it at 80 columns.
    Console(width=None if sys.stdout.isatty() else PIPED_WIDTH).print(_table(rows))


#: The width a piped table may take: more than any row needs.
PIPED_WIDTH = 1000


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table("response_id", "endpoint", "status", "created", "took", box=None)
    table.columns[0].min_width = max(len(row["response_id"]) for row in rows)  # ids are for copying whole
    for row in rows:
        created = (row.get("created_at") or "")[:19].replace("T", " ")
        table.add_row(row["response_id"], row["endpoint"], row["status"], created, _took(row))
    return table


def _took(row: dict[str, Any]) -> str:
    """From submit to the end, ``4.2s`` or ``12m05s``; blank while the request goes on."""
    if not row.get("completed_at"):
        return ""
    ended, created = (datetime.fromisoformat(row[key]) for key in ("completed_at", "created_at"))
    seconds = (ended - created).total_seconds()
    minutes, rest = divmod(seconds, 60)
    return f"{seconds:.1f}s" if minutes == 0 else f"{minutes:.0f}m{rest:02.0f}s"


@requests.command("show", epilog=EXIT_CODES_HELP)
@click.argument("response_id")
@client_options
def requests_show(client: CLIClient, response_id: str) -> None:
    """Print a request's state as JSON (status, times, error, queue position).

    \b
    Example:
      inferq requests show 7wz3xeqtberleb32bplm45btrvimlgicwpptoojlky
    """
    echo_json(client.state(client.future(response_id)))


@requests.command("cancel", epilog=EXIT_CODES_HELP)
@click.argument("response_id")
@client_options
def requests_cancel(client: CLIClient, response_id: str) -> None:
    """Cancel a pending or running request (exit 1 if it already ended). Running work
    stops: the model at its next step, or its worker is replaced after the server's
    --cancel-grace.

    \b
    Example:
      inferq requests cancel 7wz3xeqtberleb32bplm45btrvimlgicwpptoojlky
    """
    client.cancel(client.future(response_id))
    click.echo(f"cancelled {response_id}")


@requests.command("retry", epilog=EXIT_CODES_HELP)
@click.argument("response_ids", nargs=-1, required=True)
@scheduling_options
@client_options
def requests_retry(client: CLIClient, response_ids: tuple[str, ...], scheduling: dict[str, Any]) -> None:
    """Run failed or cancelled requests again with their stored inputs, each as a new
    request; print ``<id> -> <new id>`` for each, or why it could not be retried (exit 1).

    \b
    Examples:
      inferq requests retry 7wz3xeqtberleb32bplm45btrvimlgicwpptoojlky
      inferq requests retry <id> <id> --priority high
    """
    retried = client.retry_many(list(response_ids), **scheduling)
    for response_id, outcome in retried.items():
        if isinstance(outcome, APIError):
            click.echo(f"{response_id}: {outcome.message}", err=True)
        else:
            click.echo(f"{response_id} -> {outcome.response_id}")
    if any(isinstance(outcome, APIError) for outcome in retried.values()):
        sys.exit(EXIT_FAILED)


@requests.command("wait", epilog=EXIT_CODES_HELP)
@click.argument("response_id")
@click.option(
    "--timeout", type=DURATION, help="Give up after this long (90s, 15m, 2h; exit 4); the request goes on."
)
@client_options
def requests_wait(client: CLIClient, response_id: str, timeout: float | None) -> None:
    """Wait for a request to end and print its outputs as JSON (exit 1 if it failed).

    \b
    Examples:
      inferq requests wait 7wz3xeqtberleb32bplm45btrvimlgicwpptoojlky
      inferq requests wait 7wz3xeqtberleb32bplm45btrvimlgicwpptoojlky --timeout 10m
    """
    echo_json(client.wait(client.future(response_id), timeout))
