"""Durations as users write them on the command line: ``24h``, ``15m``, ``90s``, ``2d``, ``30``."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")


def parse_duration(text: str | float) -> float:
    """Seconds in ``text``; raises ValueError naming the text when it is not a duration."""
    if isinstance(text, int | float):
        seconds = float(text)
    else:
        match = _DURATION.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a duration (examples: 24h, 15m, 90s, 30)")
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if seconds <= 0:
        raise ValueError(f"{text!r} must be a positive duration")
    return seconds


def format_duration(seconds: float) -> str:
    """``86400`` → ``24h``, ``300`` → ``5m``: ``seconds`` as parse_duration reads it, in the
    largest unit up to hours that counts it whole (plain seconds when none does)."""
    for unit in ("h", "m", "s", "ms"):
        count = seconds / _UNITS[unit]
        if count >= 1 and count == int(count):
            return f"{int(count)}{unit}"
    return str(seconds)
