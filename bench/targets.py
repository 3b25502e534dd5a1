"""The performance targets inferq holds itself to, each a ratio of two figures of one run.

A target belongs to a part of ``python -m bench`` (``overhead``, ``sweep``); the ratio is
taken run by run, between figures measured minutes apart on the same machine, and the table
gives its median and min-max over the runs beside the bound it must meet.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: One run of a part (``{"celery": {...}, "sqlite": {...}, ...}``) and a backend → the ratio.
Ratio = Callable[[dict[str, Any], str], float]


@dataclass(frozen=True)
class Target:
    part: str
    #: What is divided by what, as the table prints it.
    name: str
    ratio: Ratio
    bound: float
    #: Whether the ratio must be at least ``bound`` (a rate) or at most (a latency).
    at_least: bool = True
    #: The backend it applies to, if only one.
    only: str | None = None

    def met(self, ratio: float) -> bool:
        return ratio >= self.bound if self.at_least else ratio <= self.bound


def _over(figure: str, reference: str) -> Ratio:
    """``figure`` of the backend over the same figure of ``reference``."""
    return lambda run, backend: run[backend][figure] / run[reference][figure]


def _within(figure: str, base: str) -> Ratio:
    """One figure of the backend over another of the same backend."""
    return lambda run, backend: run[backend][figure] / run[backend][base]


def _added_gateway(count: int) -> Ratio:
    """What the ``count``-th gateway adds to the submits of ``count - 1``, over one's."""

    def ratio(run: dict[str, Any], backend: str) -> float:
        rates = run[backend]
        one = rates["submits_per_s_1_gateways"]
        return (rates[f"submits_per_s_{count}_gateways"] - rates[f"submits_per_s_{count - 1}_gateways"]) / one

    return ratio


TARGETS = [
    Target("overhead", "async submits/s / Celery .delay()", _over("submits_per_s", "celery"), 3.0),
    Target("overhead", "async submits/s / bare Starlette POST", _over("submits_per_s", "bare"), 0.5),
    Target(
        "overhead",
        "end to end/s, 1 worker / Celery's",
        _over("end_to_end_per_s_1_worker", "celery"),
        3.0,
    ),
    Target(
        "overhead",
        "end to end/s, 2 workers / Celery's",
        _over("end_to_end_per_s_2_workers", "celery"),
        3.0,
    ),
    Target(
        "overhead",
        "no-op echo: 2 workers / 1 worker",
        _within("end_to_end_per_s_2_workers", "end_to_end_per_s_1_worker"),
        1.0,
    ),
    Target(
        "overhead",
        "10 ms echo: 2 workers / 1 worker",
        _within("end_to_end_per_s_2_workers_10ms", "end_to_end_per_s_1_worker_10ms"),
        1.8,
    ),
    Target(
        "overhead",
        "round trip p50 / Celery's",
        _over("round_trip_p50_ms", "celery"),
        1.0,
        at_least=False,
    ),
    Target("overhead", "2nd gateway's submits / one's", _added_gateway(2), 0.7, only="redis"),
    Target("overhead", "3rd gateway's submits / one's", _added_gateway(3), 0.7, only="redis"),
    Target(
        "sweep",
        "round trip p99 during a sweep / after",
        _within("round_trip_p99_ms_during", "round_trip_p99_ms_after"),
        3.0,
        at_least=False,
    ),
]


def rows(results: dict[str, Any], backends: list[str]) -> list[dict[str, Any]]:
    """Each target of the parts in ``results``, on each backend it applies to."""
    table = []
    for target in TARGETS:
        if target.part not in results:
            continue
        runs = results[target.part]["runs"]
        for backend in backends:
            if target.only not in (None, backend) or backend not in runs[0]:
                continue
            ratios = [target.ratio(run, backend) for run in runs]
            median = statistics.median(ratios)
            table.append(
                {
                    "backend": backend,
                    "target": target.name,
                    "bound": f"{'>=' if target.at_least else '<='} {target.bound:g}",
                    "median": median,
                    "min": min(ratios),
                    "max": max(ratios),
                    "met": target.met(median),
                }
            )
    return table


def print_rows(table: list[dict[str, Any]]) -> None:
    print(f"\n{'backend':<8}{'target':<42}{'bound':>8}{'ratio median (min-max)':>26}   ")
    for row in table:
        ratio = f"{row['median']:.2f} ({row['min']:.2f}-{row['max']:.2f})"
        print(
            f"{row['backend']:<8}{row['target']:<42}{row['bound']:>8}{ratio:>26}   "
            f"{'met' if row['met'] else 'MISSED'}"
        )
