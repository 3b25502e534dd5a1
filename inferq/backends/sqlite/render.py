"""The rules of :mod:`inferq.domain.lifecycle` in SQL, for the schema and statements to use."""

from __future__ import annotations

from collections.abc import Iterable

from inferq.domain import lifecycle
from inferq.domain.status import TERMINAL, Status


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def statuses(among: Iterable[Status]) -> str:
    """``('completed', 'failed', 'cancelled')``, in the order the enum declares them."""
    chosen = set(among)
    return "(" + ", ".join(quoted(status.value) for status in Status if status in chosen) + ")"


def text(template: str, **fields: str) -> str:
    """A lifecycle message template as an SQL expression, each field an SQL expression."""
    parts = []
    for literal, field in lifecycle.template_fields(template):
        if literal:
            parts.append(quoted(literal))
        if field is not None:
            parts.append(fields[field])
    return " || ".join(parts)


def made(move: lifecycle.Move) -> str:
    """True in an ``AFTER UPDATE OF status`` trigger when the update was ``move``."""
    condition = f"OLD.status IN {statuses(move.before)} AND NEW.status = {quoted(move.after.value)}"
    return f"({condition} AND NEW.attempts = 1)" if move.first_attempt_only else f"({condition})"


def made_any(moves: Iterable[lifecycle.Move]) -> str:
    return "(" + " OR ".join(made(move) for move in moves) + ")"


def opened_attempt(worker: str, now: str) -> str:
    """The ``history`` column with a run of ``worker`` started at ``now`` appended (SQL
    expressions); for the claim's ``SET``."""
    return (
        f"json_insert(coalesce(history, '[]'), '$[#]', json_object('worker', {worker}, 'started_at', {now}))"
    )


def closed_attempt(outcome: str, now: str) -> str:
    """The ``history`` column with its last run ended at ``now`` with ``outcome`` if the
    request is running (in a ``SET``, ``status`` is the status before the update)."""
    running = quoted(Status.RUNNING.value)
    ended = f"json_set(history, '$[#-1].ended_at', {now}, '$[#-1].outcome', {outcome})"
    return f"CASE WHEN status = {running} THEN {ended} ELSE history END"


def ended_by(move: lifecycle.Move, now: str = ":now") -> str:
    """``history = ...`` for a statement that makes ``move``."""
    assert move.attempt_outcome is not None
    return f"history = {closed_attempt(quoted(move.attempt_outcome), now)}"


#: Statuses in SQL: the terminal ones, and every move that ends a request.
TERMINAL_SQL = statuses(TERMINAL)
ENDS = made_any(move for move in lifecycle.MOVES if move.ends)
