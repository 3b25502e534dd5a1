"""``inferq embed``: a file of texts, one per line, to embeddings as JSON lines.

The lines are sent as requests of ``--per-request`` texts each, all queued at once (in as
few calls as the server's batch limit allows), and written in the file's order as they
end; the server encodes requests that arrive together in one call.
"""

from __future__ import annotations

import json
from typing import IO

import click

from inferq.cli.client import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    REQUEST_ERRORS,
    CLIClient,
    ClientError,
    client_options,
    describe,
)
from inferq.cli.progress import progress_bar
from inferq.models.embeddings import MAX_INPUTS
from inferq.sdk import InferenceFuture, as_completed


def chunks(lines: list[tuple[int, str]], size: int) -> list[list[tuple[int, str]]]:
    return [lines[start : start + size] for start in range(0, len(lines), size)]


@click.command(epilog=EXIT_CODES_HELP)
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), default="-", help="Where the JSON lines go."
)
@click.option("--endpoint", default="embeddings", show_default=True, help="An embeddings endpoint.")
@click.option(
    "--per-request",
    type=click.IntRange(1, MAX_INPUTS),
    default=64,
    show_default=True,
    help="Texts in each request.",
)
@click.option("--normalize/--no-normalize", default=True, show_default=True, help="Vectors of length 1.")
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Show the progress bar (default: when stderr is a terminal).",
)
@client_options
def embed(
    client: CLIClient,
    file: IO[str],
    output: IO[str],
    endpoint: str,
    per_request: int,
    normalize: bool,
    show_progress: bool | None,
) -> None:
    """Embed each line of FILE ('-': standard input), written as JSON lines in its order:
    {"line": N, "text": ..., "embedding": [...]}. Blank lines are skipped.

    \b
    Examples:
      inferq embed sentences.txt > vectors.jsonl
      cut -f2 corpus.tsv | inferq embed - --per-request 256 -o vectors.jsonl
    """
    texts = [(number, line.rstrip("\n")) for number, line in enumerate(file, 1) if line.strip()]
    groups = chunks(texts, per_request)
    with progress_bar(show_progress) as progress:
        task = progress.add_task("Embedding", total=len(texts), states="")
        futures = client.infer_batch(
            endpoint, [{"input": [text for _, text in group], "normalize": normalize} for group in groups]
        )
        order = {future.response_id: index for index, future in enumerate(futures)}
        ended: dict[int, InferenceFuture] = {}
        written = 0
        for future in as_completed(futures):
            index = order[future.response_id]
            ended[index] = future
            progress.advance(task, len(groups[index]))
            while written in ended:  # in the file's order, as soon as the lines before are done
                _write(output, groups[written], ended.pop(written))
                written += 1
    click.echo(f"embedded {len(texts)} line{'s' if len(texts) != 1 else ''}", err=True)


def _write(output: IO[str], group: list[tuple[int, str]], future: InferenceFuture) -> None:
    try:
        vectors = future.result()["embeddings"]
    except REQUEST_ERRORS as exc:
        first, last = group[0][0], group[-1][0]
        raise ClientError(f"lines {first} to {last}: {describe(exc)}", EXIT_FAILED) from None
    for (number, text), vector in zip(group, vectors, strict=True):
        output.write(
            json.dumps({"line": number, "text": text, "embedding": vector}, ensure_ascii=False) + "\n"
        )
