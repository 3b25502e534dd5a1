"""docs/limits.md states the public limits as :mod:`inferq.protocol.limits` does."""

from __future__ import annotations

import re
from pathlib import Path

from inferq.protocol import limits

DOC = Path(__file__).parents[1] / "docs" / "limits.md"
ROW = re.compile(r"^\| (?P<what>[^|]+) \| (?P<value>[^|]+) \| `(?P<name>[A-Z_]+)` \|$", re.MULTILINE)


def test_the_table_lists_every_limit_with_its_value() -> None:
    rows = {m["name"]: m["value"] for m in ROW.finditer(DOC.read_text())}
    constants = {name: value for name, value in vars(limits).items() if name.isupper()}
    assert sorted(rows) == sorted(constants)
    for name, shown in rows.items():
        number = re.search(r"\d[\d,]*", shown)
        assert number is not None, shown
        assert float(number[0].replace(",", "")) == constants[name], f"{shown} for {name}: {constants[name]}"
