"""Click parameter types for the values users write on the command line: durations, sizes, networks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from inferq.domain.durations import format_duration, parse_duration
from inferq.domain.sizes import format_size, parse_size
from inferq.webhooks.policy import parse_networks


class Parsed(click.ParamType):  # type: ignore[type-arg]  # generic only in click's stubs
    """A value read by one of inferq's parsers; its ValueError becomes click's usage error.

    ``format`` writes a value back the way users write it, as the help shows a default.
    """

    def __init__(self, name: str, parse: Callable[[str], Any], format: Callable[[Any], str]) -> None:
        self.name = name
        self.parse = parse
        self.format = format

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Parsed("duration", parse_duration, format_duration)
SIZE = Parsed("size", parse_size, format_size)
NETWORKS = Parsed("networks", parse_networks, lambda networks: ",".join(map(str, networks)))
