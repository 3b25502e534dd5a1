"""The Redis store's Lua scripts: every move is one script, so it is atomic.

A script runs alone on the server, so "complete only while holding the lease", "claim
exactly one entry" and "end a request and start its retention clock" need no WATCH
retries. Each script in ``lua/`` runs after the parts it uses of a prelude generated here:
the key builders of :mod:`inferq.backends.redis.keys`, the tables of
:mod:`inferq.domain.lifecycle` (what each move leads to and emits, the terminal statuses,
the give-up and deadline rules and their messages), the latency buckets of
:mod:`inferq.backends.counters`, and the shared helpers (``outbox.lua``, ``counting.lua``,
``moves.lua``). Every script takes the key prefix as ``ARGV[1]``. Times and durations come
from Python as strings (Lua would round floats to 14 digits); lease idleness and worker
liveness use Redis's own clock (stream idle times, ``TIME``).

A request's stream entry id is ``<seq>-0`` (its global sequence number), so the entry,
the listing order and the queue position all derive from one number.
"""

from __future__ import annotations

import re
from importlib import resources

from inferq.backends.counters import LATENCY_BUCKETS, LE, PACE_COST, PACE_RUN
from inferq.backends.redis.keys import lua_prelude
from inferq.domain import lifecycle
from inferq.domain.status import TERMINAL

#: Helpers every script may call, in the order they build on each other.
LIBRARY = ("outbox", "counting", "moves")
#: Each script, by the name the stores run it with.
SCRIPTS = (
    "enqueue",
    "standing",
    "cancel",
    "claim",
    "beat",
    "renew",
    "finish",
    "progress",
    "checkpoint",
    "miss_deadlines",
    "reap",
    "expire",
    "delete",
    "release",
    "ready_workers",
    "worker_counts",
    "queue_stats",
    "remove_worker",
    "authenticate",
    "revoke_token",
    "webhook_claim",
    "webhook_record",
    "webhook_log",
    "webhook_redeliver",
)


def quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _table(entries: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{quoted(key)}] = {value}" for key, value in entries.items()) + "}"


def _text(template: str, *fields: str) -> str:
    """A lifecycle message template as a Lua function of its fields."""
    parts = []
    for literal, field in lifecycle.template_fields(template):
        if literal:
            parts.append(quoted(literal))
        if field is not None:
            parts.append(field)
    return f"function({', '.join(fields)}) return {' .. '.join(parts)} end"


def lifecycle_prelude() -> str:
    """:mod:`inferq.domain.lifecycle` as Lua tables and functions."""
    moves = lifecycle.MOVES
    gives_up = lifecycle.GIVES_UP.format(
        attempts="tonumber(attempts)",
        progressed="tonumber(progressed or 0)",
        max_attempts="tonumber(max_attempts)",
    )
    lines = [
        f"local AFTER = {_table({m.name: quoted(m.after.value) for m in moves})}",
        "local BEFORE = " + _table({m.name: _table({s.value: "true" for s in m.before}) for m in moves}),
        f"local EVENT = {_table({m.name: quoted(m.event) for m in moves if m.event})}",
        f"local FIRST_ATTEMPT_ONLY = {_table({m.name: 'true' for m in moves if m.first_attempt_only})}",
        "local ATTEMPT_OUTCOME = "
        + _table({m.name: quoted(m.attempt_outcome) for m in moves if m.attempt_outcome}),
        f"local TERMINAL = {_table({s.value: 'true' for s in TERMINAL})}",
        f"local GIVE_UP_ERROR_TYPE = {quoted(lifecycle.GIVE_UP_ERROR_TYPE)}",
        f"local function gives_up(attempts, progressed, max_attempts) return {gives_up} end",
        f"local lease_lost_error = {_text(lifecycle.LEASE_LOST_ERROR, 'attempts')}",
        f"local worker_died_error = {_text(lifecycle.WORKER_DIED_ERROR, 'reason', 'attempts')}",
        "local BOUNDS = {" + ", ".join(f"{{{b!r}, '{le}'}}" for b, le in zip(LATENCY_BUCKETS, LE)) + "}",
        f"local PACE_RUN, PACE_COST = {quoted(PACE_RUN)}, {quoted(PACE_COST)}",
        f"local DEADLINE_ERROR_TYPE = {quoted(lifecycle.DEADLINE_ERROR_TYPE)}",
        f"local DEADLINE_ERROR = {quoted(lifecycle.DEADLINE_ERROR)}",
    ]
    return "\n".join(lines) + "\n"


def _source(name: str) -> str:
    return resources.files(__package__).joinpath("lua", f"{name}.lua").read_text()


def load_scripts() -> dict[str, str]:
    """Every script's full text, by name: the definitions of the prelude it uses, then its own."""
    prelude = _definitions(lua_prelude() + lifecycle_prelude() + "".join(_source(name) for name in LIBRARY))
    return {name: _used(prelude, _source(name)) + _source(name) for name in SCRIPTS}


#: A top-level ``local`` definition of the prelude and the names it defines.
_DEFINITION = re.compile(r"^local (?:function (\w+)|([\w, ]+?) =)", re.MULTILINE)
_NAME = re.compile(r"[A-Za-z_]\w*")
#: A line at the top level of the prelude, and what else than a definition may be there:
#: the ``end`` of a function, a comment.
_TOP_LEVEL = re.compile(r"^\S")
_NOT_A_STATEMENT = re.compile(r"^(end\b|--)")


def _definitions(prelude: str) -> list[tuple[set[str], str]]:
    """The prelude cut at each top-level ``local``: each piece with the names it defines
    (the comments and blank lines after a definition go with it)."""
    stray = [
        line
        for line in prelude.splitlines()
        if _TOP_LEVEL.match(line) and not (_DEFINITION.match(line) or _NOT_A_STATEMENT.match(line))
    ]
    if stray:  # a statement of its own would be kept or cut with the definition above it
        raise ValueError(f"the Lua prelude must hold only top-level local definitions, not {stray[0]!r}")
    starts = [match.start() for match in _DEFINITION.finditer(prelude)]
    pieces = [prelude[start:end] for start, end in zip(starts, [*starts[1:], len(prelude)], strict=True)]
    return [(_defined(piece), piece) for piece in pieces]


def _defined(piece: str) -> set[str]:
    match = _DEFINITION.match(piece)
    assert match is not None
    function, variables = match.groups()
    return {function} if function else {name.strip() for name in variables.split(",")}


def _used(prelude: list[tuple[set[str], str]], source: str) -> str:
    """The definitions ``source`` refers to, and those they refer to, in the prelude's
    order. Redis runs a script's whole text on every call: defining all 60 helpers took
    ~35 µs of each call, as long as a short script itself."""
    wanted = set(_NAME.findall(source))
    kept = [False] * len(prelude)
    grew = True
    while grew:
        grew = False
        for index, (names, piece) in enumerate(prelude):
            if not kept[index] and names & wanted:
                kept[index] = grew = True
                wanted |= set(_NAME.findall(piece))
    return "".join(piece for (_, piece), keep in zip(prelude, kept, strict=True) if keep)
