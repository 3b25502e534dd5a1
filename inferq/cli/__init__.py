"""The ``inferq`` command: one group, its commands in the modules beside this one.

``server`` and ``tokens`` act on a backend directly; ``infer``, ``requests``,
``transcribe`` and ``embed`` are clients of a running server, through the SDK only (``client``).
"""

from __future__ import annotations

import logging

import click

from inferq._version import __version__
from inferq.cli import embed, requests, server, tokens, transcribe


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="inferq")
@click.option("--log-level", default="info", envvar="INFERQ_LOG_LEVEL", show_default=True)
def main(log_level: str) -> None:
    """inferq: submit a request, get a future at once, collect the result when it is ready."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request's full URL at INFO: a webhook's may hold its receiver's secret
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


for command in (
    server.serve,
    server.worker,
    tokens.token,
    transcribe.transcribe,
    embed.embed,
    requests.requests,
    requests.infer,
):
    main.add_command(command)
