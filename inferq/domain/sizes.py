"""Sizes as users write them on the command line: ``512M``, ``2G``, ``1.5GiB``, ``65536``."""

from __future__ import annotations

import re

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)


def parse_size(text: str | int) -> int:
    """Bytes in ``text``; units are binary (``1K`` = 1024), as ``ulimit`` and ``docker -m`` read them.

    Raises ValueError naming the text when it is not a positive size.
    """
    if isinstance(text, int):
        size = text
    else:
        match = _SIZE.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a size (examples: 512M, 2G, 65536)")
        size = int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    if size <= 0:
        raise ValueError(f"{text!r} must be a positive size")
    return size


def format_size(size: int) -> str:
    """``536870912`` → ``512 MiB``: how error messages show a limit."""
    for unit, factor in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:g} {unit}"
    return f"{size} B"
