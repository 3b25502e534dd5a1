"""``inferq transcribe``: a folder of recordings to text or subtitles, asynchronously.

Every file is submitted at once as its own request (the server queues them durably),
then collected with :func:`~inferq.as_completed`, which holds one long poll per
request: the progress bar moves when a request ends, with no polling loop.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress

from inferq.cli.client import (
    EXIT_CODES_HELP,
    EXIT_FAILED,
    REQUEST_ERRORS,
    CLIClient,
    ClientError,
    client_options,
    describe,
    reuse_option,
    scheduling_options,
)
from inferq.cli.progress import progress_bar
from inferq.sdk import InferenceFuture, as_completed

#: What a directory is searched for (any container the server's PyAV decodes).
AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".mp4"}
)

#: What ``--format`` takes: the server renders text and subtitles (whisper's ``?format=``);
#: json is the whole output, indented here.
FORMATS = ("txt", "srt", "vtt", "json")

#: What fails one file and not the run: it cannot be read or written, or its request failed.
FILE_ERRORS: tuple[type[Exception], ...] = (OSError, *REQUEST_ERRORS)

#: A file's outcome: it is written (or kept for stdout) and a line says where it went.
Sink = Callable[[Path, str], str]


class Board:
    """The progress bar, and the per-state counts it shows: to upload, queued, done, failed."""

    def __init__(self, progress: Progress, total: int) -> None:
        self.progress = progress
        self.counts = {"to upload": total, "queued": 0, "done": 0, "failed": 0}
        self.failures: dict[Path, str] = {}
        self.task = progress.add_task("Transcribing", total=total, states=self._states())

    def queued(self) -> None:
        self._move("to upload", "queued")

    def done(self, line: str) -> None:
        self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        self._move("queued", "done")

    def failed(self, file: Path, state: str, reason: str) -> None:
        self.failures[file] = reason
        self._move(state, "failed")

    def _move(self, old: str, new: str) -> None:
        self.counts[old] -= 1
        self.counts[new] += 1
        ended = self.counts["done"] + self.counts["failed"]
        self.progress.update(self.task, completed=ended, states=self._states())

    def _states(self) -> str:
        return ", ".join(f"{count} {state}" for state, count in self.counts.items() if count)


def audio_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given, and each directory's audio files (not its subdirectories), in order, once."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                raise click.BadParameter(f"no audio files in {path} ({', '.join(sorted(AUDIO_SUFFIXES))})")
            files.extend(found)
        else:
            files.append(path)
    return list(dict.fromkeys(files))


def _expand(ctx: click.Context, param: click.Parameter, paths: tuple[Path, ...]) -> list[Path]:
    """Argument callback: directories are expanded while parsing, so their errors are usage errors."""
    return audio_files(paths)


def output_paths(files: list[Path], suffix: str, output_dir: Path | None) -> dict[Path, Path]:
    """``<stem><suffix>`` beside each file (or in ``output_dir``).

    Where two inputs would share it (``a.wav`` and ``a.mp3``), or it would overwrite the
    input itself, the whole name is kept instead: ``a.wav.txt``.
    """
    short = {file: (output_dir or file.parent) / f"{file.stem}{suffix}" for file in files}
    claims = list(short.values())
    return {
        file: path if claims.count(path) == 1 and path != file else path.with_name(file.name + suffix)
        for file, path in short.items()
    }


def submit_all(
    client: CLIClient,
    endpoint: str,
    files: list[Path],
    inputs: dict[str, Any],
    scheduling: dict[str, Any],
    concurrency: int,
    board: Board,
) -> dict[InferenceFuture, Path]:
    """Queue every file, ``concurrency`` uploads at a time; a file the server refuses fails alone."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="inferq-upload")
    jobs = {pool.submit(_submit, client, endpoint, file, inputs, scheduling): file for file in files}
    futures: dict[InferenceFuture, Path] = {}
    try:
        for job in concurrent.futures.as_completed(jobs):
            try:
                futures[job.result()] = jobs[job]
            except FILE_ERRORS as exc:
                board.failed(jobs[job], "to upload", _reason(exc))
            else:
                board.queued()
    finally:
        pool.shutdown(cancel_futures=True)
    return futures


def _submit(
    client: CLIClient, endpoint: str, file: Path, inputs: dict[str, Any], scheduling: dict[str, Any]
) -> InferenceFuture:
    """Queue one recording, streamed from disk as a multipart part (never base64 in memory)."""
    return client.infer_async(endpoint, {**inputs, "audio": file}, **scheduling)


def render(client: CLIClient, future: InferenceFuture, fmt: str) -> str:
    """An ended request's outputs as ``fmt``."""
    if fmt == "json":
        return json.dumps(future.result(), indent=2, ensure_ascii=False) + "\n"
    return client.rendered(future, fmt)


def collect(
    client: CLIClient, futures: dict[InferenceFuture, Path], fmt: str, sink: Sink, board: Board
) -> None:
    """Render and hand each result to ``sink`` as its request ends, first done first."""
    for future in as_completed(futures):
        file = futures[future]
        try:
            line = sink(file, render(client, future, fmt))
        except FILE_ERRORS as exc:
            board.failed(file, "queued", _reason(exc))
        else:
            board.done(line)


def _reason(exc: Exception) -> str:
    return describe(exc) if isinstance(exc, REQUEST_ERRORS) else str(exc)


def file_sink(targets: dict[Path, Path]) -> Sink:
    def write(file: Path, text: str) -> str:
        target = targets[file]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        return f"{file} -> {target}"

    return write


def memory_sink(texts: dict[Path, str]) -> Sink:
    """Keeps the texts, printed in input order once the bar is gone so it never mixes in."""

    def keep(file: Path, text: str) -> str:
        texts[file] = text
        return f"{file} transcribed"

    return keep


def print_texts(files: list[Path], texts: dict[Path, str]) -> None:
    """Each text; with several files, each under a ``==> file <==`` header, as ``head`` does."""
    done = [file for file in files if file in texts]
    for index, file in enumerate(done):
        if len(files) > 1:
            click.echo(("\n" if index else "") + f"==> {file} <==")
        click.echo(texts[file], nl=False)


def follow_one(
    client: CLIClient,
    endpoint: str,
    file: Path,
    inputs: dict[str, Any],
    scheduling: dict[str, Any],
    fmt: str,
    sink: Sink,
) -> None:
    """Queue one recording and print its text as the model saves it, a segment a line,
    then hand the result to ``sink`` as a run without ``--follow`` does."""
    future = _submit(client, endpoint, file, inputs, scheduling)
    for segment in client.stream(future):
        click.echo(segment["text"].strip())
    click.echo(sink(file, render(client, future, fmt)), err=True)


def report(board: Board, total: int) -> None:
    """Say how it went; name each failed file and why, then exit 1."""
    if not board.failures:
        click.echo(f"transcribed {total} file{'s' if total != 1 else ''}", err=True)
        return
    for file, reason in board.failures.items():
        click.echo(f"failed: {file}: {reason}", err=True)
    raise ClientError(f"{len(board.failures)} of {total} files failed", EXIT_FAILED)


@click.command(epilog=EXIT_CODES_HELP)
@click.argument(
    "files",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    callback=_expand,
    metavar="FILE_OR_DIR...",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="txt",
    show_default=True,
    help="txt: the text; srt/vtt: subtitles from the segments; json: the whole output.",
)
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the results here instead of beside each file.",
)
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the results instead of writing files.")
@click.option(
    "--language", default="en", show_default=True, help="Language code of the speech; 'auto' detects it."
)
@click.option("--word-timestamps", is_flag=True, help="Ask for each word's times (in --format json).")
@click.option("--endpoint", default="whisper", show_default=True, help="A Whisper-compatible endpoint.")
@click.option(
    "--concurrency", type=click.IntRange(1), default=4, show_default=True, help="Files uploaded at once."
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=None,
    help="Show the progress bar (default: when stderr is a terminal).",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Print the text as it is decoded, a segment a line (one file); the result is written as usual.",
)
@scheduling_options
@reuse_option
@client_options
def transcribe(
    client: CLIClient,
    files: list[Path],
    fmt: str,
    output_dir: Path | None,
    to_stdout: bool,
    language: str,
    word_timestamps: bool,
    endpoint: str,
    concurrency: int,
    show_progress: bool | None,
    follow: bool,
    scheduling: dict[str, Any],
) -> None:
    """Transcribe audio files, and every audio file in each DIR, with Whisper.

    All files are queued at once and collected as they finish. Results go beside each
    file as <name>.txt (or .srt, .vtt, .json), into --output-dir, or to --stdout.
    A file that fails is named with the reason at the end; the others are still written.

    \b
    Examples:
      inferq transcribe meeting.mp3                      # writes meeting.txt
      inferq transcribe ./recordings --format srt        # a .srt beside every recording
      inferq transcribe a.wav b.flac --format vtt --output-dir subtitles/
      inferq transcribe interview.m4a --stdout --format json --word-timestamps
      inferq transcribe lecture.mp3 --follow             # the text as it comes, then lecture.txt
      inferq transcribe ./archive --priority low --deadline 12h --retention 1h
      INFERQ_URL=http://gpu-box:8000 inferq transcribe ./recordings
    """
    if to_stdout and output_dir is not None:
        raise click.UsageError("--stdout and --output-dir exclude each other")
    texts: dict[Path, str] = {}
    sink = memory_sink(texts) if to_stdout else file_sink(output_paths(files, f".{fmt}", output_dir))
    inputs = {"language": None if language == "auto" else language, "word_timestamps": word_timestamps}
    if follow:
        if len(files) != 1:
            raise click.UsageError(f"--follow follows one file, got {len(files)}")
        if to_stdout:
            raise click.UsageError("--follow prints the text itself: leave out --stdout")
        follow_one(client, endpoint, files[0], inputs, scheduling, fmt, sink)
        return
    with progress_bar(show_progress) as progress:
        board = Board(progress, len(files))
        futures = submit_all(client, endpoint, files, inputs, scheduling, concurrency, board)
        collect(client, futures, fmt, sink, board)
    print_texts(files, texts)
    report(board, len(files))
