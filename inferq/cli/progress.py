"""The progress bar of the commands that send many requests (``transcribe``, ``embed``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


@contextlib.contextmanager
def progress_bar(show: bool | None) -> Iterator[Progress]:
    """On stderr, so stdout stays the transcript; ``None`` shows it when stderr is a terminal.

    An error that stops the run takes the bar away, so the error stands alone.
    """
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[states]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True, force_terminal=show or None),
        disable=show is False,
    )
    progress.start()
    try:
        yield progress
    except BaseException:
        progress.live.transient = True
        progress.live.stop()  # not Progress.stop: off a terminal it adds a blank line
        raise
    progress.stop()
