"""Every Redis key the Redis backend uses, named in one place (arq's ``constants.py``).

Keys are ``{prefix}:{stem}:{id}`` or ``{prefix}:{name}``. The Lua scripts build the same
names from the same tables (:func:`lua_prelude`), so Python and Lua cannot disagree.

Per request: ``req:<id>`` (hash: the state), ``in:<id>`` and ``out:<id>`` (payloads, so a
status change never rewrites them), ``idem:<tenant>:<key>`` (hash: response_id and body
hash). All four get a TTL when the request ends and none before. Shared: ``queue:<endpoint>``
(stream, consumer group :data:`GROUP`), ``tenant:<tenant>`` (zset of ids by sequence, for
listing), ``requests`` (zset of every id by sequence, for an admin's listing of every
tenant), ``expiry`` (zset of ``"<tenant> <id>"`` by expires_at, for the sweep),
``ready:<endpoint>`` (zset of ready workers by last heartbeat, Redis time in ms),
``workers:<endpoint>`` (the same for every live worker, ready or loading),
``counters:<endpoint>`` (hash of the totals of :mod:`inferq.backends.counters`, never expired),
``active:<tenant>`` (set of the tenant's pending and running ids, for its queue limit),
``setuperr:<endpoint>`` (the last failed setup's error, until a worker is ready),
``waiting:<endpoint> <tenant>`` (zset of a tenant's waiting ids by order key),
``shares:<endpoint>`` (zset of ``"<seq> <tenant>"`` for each tenant with requests waiting,
by virtual time; seq is that of the request it joined with), ``joined:<endpoint>`` (hash:
tenant → its share),
``waitcost:<endpoint>`` (hash: tenant → the cost of its waiting requests), ``vtimes:<endpoint>``
(hash: tenant → its virtual time while nothing of its waits), ``vclock:<endpoint>`` (the
endpoint's virtual clock: :mod:`inferq.domain.scheduling`), ``deadlines`` (zset of active
ids by deadline); ``turns:<endpoint>`` and ``served:<endpoint>`` are the count-fair turns
of an earlier version, moved into ``shares`` on first use,
``endpoints`` (set), ``seq`` (counter), ``secret``, ``token:<id>`` (hash),
``tokhash:<sha256>`` (→ token id, deleted on revocation), ``tokens`` (zset by creation),
and ``notify``, the pub/sub channel. Webhooks (:mod:`inferq.backends.redis.outbox`):
``hook:<webhook_id>`` (hash: one delivery and its attempts), ``hooks:<id>`` (zset of a
request's deliveries in order, deleted with the request), ``hookdue`` (zset of pending
deliveries by when a deliverer may take them), ``hookseq`` (counter) and
``whsecret:<tenant>`` (the tenant's signing key). Files (:mod:`inferq.backends.redis.files`):
``file:<id>`` (hash: the record), ``files:<tenant>`` (zset of the tenant's ids by creation)
and ``fileexpiry`` (zset of ids by expires_at, for the sweep).
"""

from __future__ import annotations

#: The one consumer group of every endpoint's stream.
GROUP = "workers"

#: Keys that exist once per deployment: name → suffix after ``{prefix}:``.
SINGLE = {
    "secret": "secret",
    "seq": "seq",
    "expiry": "expiry",
    "endpoints": "endpoints",
    "tokens": "tokens",
    "notify": "notify",
    "webhooks_due": "hookdue",
    "webhook_tenants": "hooktenants",
    "webhook_seq": "hookseq",
    "all_requests": "requests",
    "deadlines": "deadlines",
    "file_expiry": "fileexpiry",
}

#: Keys that exist once per id: name → stem, as ``{prefix}:{stem}:{id}``.
PER_ID = {
    "request": "req",
    "inputs": "in",
    "outputs": "out",
    "checkpoint": "ckpt",
    "partial": "part",
    "idempotency": "idem",
    "tenant": "tenant",
    "queue": "queue",
    "ready": "ready",
    "workers": "workers",
    "counters": "counters",
    "active": "active",
    "setup_error": "setuperr",
    "token": "token",
    "token_hash": "tokhash",
    "webhook": "hook",
    "webhooks": "hooks",
    "tenant_webhooks": "tenanthooks",
    "webhook_secret": "whsecret",
    "waiting": "waiting",
    "turns": "turns",
    "served": "served",
    "shares": "shares",
    "vtimes": "vtimes",
    "vclock": "vclock",
    "waiting_cost": "waitcost",
    "joined": "joined",
    "file": "file",
    "files": "files",
    "reusable": "reusable",
    "urgent": "urgent",
}


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def _single(self, name: str) -> str:
        return f"{self.prefix}:{SINGLE[name]}"

    def _per_id(self, name: str, ident: str) -> str:
        return f"{self.prefix}:{PER_ID[name]}:{ident}"

    @property
    def secret(self) -> str:
        return self._single("secret")

    @property
    def endpoints(self) -> str:
        return self._single("endpoints")

    @property
    def tokens(self) -> str:
        return self._single("tokens")

    @property
    def notify(self) -> str:
        return self._single("notify")

    @property
    def all_requests(self) -> str:
        return self._single("all_requests")

    def request(self, response_id: str) -> str:
        return self._per_id("request", response_id)

    def inputs(self, response_id: str) -> str:
        return self._per_id("inputs", response_id)

    def outputs(self, response_id: str) -> str:
        return self._per_id("outputs", response_id)

    def checkpoint(self, response_id: str) -> str:
        return self._per_id("checkpoint", response_id)

    def partial(self, response_id: str) -> str:
        return self._per_id("partial", response_id)

    def idempotency(self, tenant: str, key: str) -> str:
        return self._per_id("idempotency", f"{tenant}:{key}")

    def tenant(self, tenant: str) -> str:
        return self._per_id("tenant", tenant)

    def counters(self, endpoint: str) -> str:
        return self._per_id("counters", endpoint)

    def active(self, tenant: str) -> str:
        return self._per_id("active", tenant)

    def setup_error(self, endpoint: str) -> str:
        return self._per_id("setup_error", endpoint)

    def token(self, token_id: str) -> str:
        return self._per_id("token", token_id)

    def token_hash(self, digest: str) -> str:
        return self._per_id("token_hash", digest)

    def webhook_secret(self, tenant: str) -> str:
        return self._per_id("webhook_secret", tenant)

    @property
    def file_expiry(self) -> str:
        return self._single("file_expiry")

    def file(self, file_id: str) -> str:
        return self._per_id("file", file_id)

    def files(self, tenant: str) -> str:
        return self._per_id("files", tenant)


def lua_prelude() -> str:
    """Lua key builders mirroring :class:`Keys`; every script takes the prefix as ``ARGV[1]``."""
    lines = ["local P = ARGV[1]", f"local GROUP = '{GROUP}'"]
    lines += [f"local K_{name} = P .. ':{suffix}'" for name, suffix in SINGLE.items()]
    lines += [f"local function k_{name}(x) return P .. ':{stem}:' .. x end" for name, stem in PER_ID.items()]
    return "\n".join(lines) + "\n"
