"""The gateway's modules import one another without a cycle (type-only imports included),
and the wire module needs nothing the SDK does not install."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import inferq

PACKAGE = Path(inferq.__file__).parent
SERVER_ONLY = ("starlette", "uvicorn", "redis", "orjson", "sse_starlette", "prometheus_client")


def _imports(package: str) -> dict[str, set[str]]:
    """Each module of ``inferq.<package>`` → the modules of the same package it imports."""
    prefix = f"inferq.{package}"
    modules = {f"{prefix}.{path.stem}": path for path in (PACKAGE / package).glob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            found |= {target for target in targets if target in modules and target != name}
        graph[name] = found
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph``, or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph[node]):
            if (cycle := visit(target, [*path, node])) is not None:
                return cycle
        done.add(node)
        return None

    for node in sorted(graph):
        if (cycle := visit(node, [])) is not None:
            return cycle
    return None


def test_the_gateway_and_the_wire_have_no_import_cycle() -> None:
    for package in ("gateway", "protocol"):
        graph = _imports(package)
        assert len(graph) > 5
        assert _cycle(graph) is None, " → ".join(_cycle(graph) or [])


def test_the_wire_loads_no_server_dependency() -> None:
    modules = [f"inferq.protocol.{path.stem}" for path in (PACKAGE / "protocol").glob("*.py")]
    code = f"import json, sys; import {', '.join(modules)}; print(json.dumps(sorted(sys.modules)))"
    loaded = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    )
    assert sorted(m for m in loaded if m.split(".")[0] in SERVER_ONLY) == []
