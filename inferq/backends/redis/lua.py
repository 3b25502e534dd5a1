"""The Redis store's Lua scripts: every move is one script, so it is atomic.

A script runs alone on the server, so "complete only while holding the lease", "claim
exactly one entry" and "end a request and start its retention clock" need no WATCH
retries. Each script in ``lua/`` runs after a prelude generated here: the key builders of
:mod:`inferq.backends.redis.keys`, the tables of :mod:`inferq.domain.lifecycle` (what each
move leads to and emits, the terminal statuses, the give-up and deadline rules and their messages), the
latency buckets of :mod:`inferq.backends.counters`, and the shared helpers (``outbox.lua``,
``counting.lua``, ``moves.lua``). Every script takes the key prefix as ``ARGV[1]``. Times
and durations come from Python as strings (Lua would round floats to 14 digits); lease
idleness and worker liveness use Redis's own clock (stream idle times, ``TIME``).

A request's stream entry id is ``<seq>-0`` (its global sequence number), so the entry,
the listing order and the queue position all derive from one number.
"""

from __future__ import annotations

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
    """Every script's full text, by name."""
    prelude = lua_prelude() + lifecycle_prelude() + "".join(_source(name) for name in LIBRARY)
    return {name: prelude + _source(name) for name in SCRIPTS}
