"""Click parameter types for the values users write on the command line: durations and sizes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from inferq.domain.durations import parse_duration
from inferq.domain.sizes import parse_size
from inferq.webhooks.policy import parse_networks


class Parsed(click.ParamType):  # type: ignore[type-arg]  # generic only in click's stubs
    """A value read by one of inferq's parsers; its ValueError becomes click's usage error."""

    def __init__(self, name: str, parse: Callable[[str], Any]) -> None:
        self.name = name
        self.parse = parse

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        try:
            return self.parse(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


DURATION = Parsed("duration", parse_duration)
SIZE = Parsed("size", parse_size)
NETWORKS = Parsed("networks", parse_networks)
