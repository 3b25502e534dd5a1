"""The Redis backend's Lua scripts: every state change is one script, so it is atomic.

A script runs alone on the server, so "complete only while holding the lease", "claim
exactly one entry" and "end a request and start its retention clock" need no WATCH
retries. Every script takes the key prefix as ``ARGV[1]`` and builds key names with the
builders of :mod:`inferq.backends.redis_keys`. Times and durations come from Python as
strings (Lua would round floats to 14 digits); lease idleness and worker liveness use
Redis's own clock (stream idle times, ``TIME``), so machines whose clocks disagree still
agree on who holds a lease.

A request's stream entry id is ``<seq>-0`` (its global sequence number), so the entry,
the listing order and the queue position all derive from one number.
"""

from __future__ import annotations

from inferq.backends.counters import LATENCY_BUCKETS, LE
from inferq.backends.redis_keys import lua_prelude
from inferq.backends.redis_outbox import OUTBOX_LUA, OUTBOX_SCRIPTS

# Bump the endpoint's totals (inferq.backends.counters) as a request ends: by status and,
# if it ever started, its queue wait, run time and end to end (never below 0, whatever
# the skew between the gateway's and the worker's clocks).
_COUNTING = (
    "local BOUNDS = {"
    + ", ".join(f"{{{b!r}, '{le}'}}" for b, le in zip(LATENCY_BUCKETS, LE))
    + "}"
    + """
local function observe(counters, name, seconds)
  seconds = math.max(0, seconds)
  local le = '+Inf'
  for _, b in ipairs(BOUNDS) do
    if seconds <= b[1] then le = b[2]; break end
  end
  redis.call('HINCRBY', counters, name .. ':le:' .. le, 1)
  redis.call('HINCRBYFLOAT', counters, name .. ':sum', seconds)
end

local function count_end(endpoint, status, created_at, started_at, now)
  local counters = k_counters(endpoint)
  redis.call('HINCRBY', counters, 'finished:' .. status, 1)
  if not started_at then return end
  local created, started, ended = tonumber(created_at), tonumber(started_at), tonumber(now)
  observe(counters, 'queue_wait', started - created)
  observe(counters, 'run', ended - started)
  observe(counters, 'end_to_end', ended - created)
end
"""
)

_HELPERS = """
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function fields(flat)
  local t = {}
  for i = 1, #flat, 2 do t[flat[i]] = flat[i + 1] end
  return t
end

-- Acknowledge and delete: the stream keeps nothing of a request that left the queue.
local function drop_entry(queue, entry)
  redis.call('XACK', queue, GROUP, entry)
  redis.call('XDEL', queue, entry)
end

-- Fair queuing across tenants: a request waits in its tenant's zset of the endpoint, and
-- the endpoint's turns zset orders the tenants with requests waiting by when one of theirs
-- last started (Redis time in ms); a tenant never served scores the time it first queued
-- scaled far below any such time, so newcomers go first, first come first. A claim takes
-- the first tenant's oldest request and only then adds it to the stream, whose pending
-- entries remain the leases.
local function waiting_of(endpoint, tenant) return k_waiting(endpoint .. ' ' .. tenant) end

local function join_waiting(endpoint, tenant, seq, id)
  redis.call('ZADD', waiting_of(endpoint, tenant), seq, id)
  local turns = k_turns(endpoint)
  if not redis.call('ZSCORE', turns, tenant) then
    local served = redis.call('HGET', k_served(endpoint), tenant)
    redis.call('ZADD', turns, served or (now_ms() / 1e13), tenant)
  end
end

local function leave_waiting(endpoint, tenant, id)
  local waiting = waiting_of(endpoint, tenant)
  if redis.call('ZREM', waiting, id) == 1 and redis.call('ZCARD', waiting) == 0 then
    redis.call('ZREM', k_turns(endpoint), tenant)
  end
end

-- The oldest waiting request of the tenant whose turn it is, now counted as served; nil if none.
local function next_in_turn(endpoint)
  local turns = k_turns(endpoint)
  local tenant = redis.call('ZRANGE', turns, 0, 0)[1]
  if not tenant then return nil end
  local waiting = waiting_of(endpoint, tenant)
  local popped = redis.call('ZPOPMIN', waiting)
  local t = now_ms()
  redis.call('HSET', k_served(endpoint), tenant, t)
  if redis.call('ZCARD', waiting) == 0 then redis.call('ZREM', turns, tenant) else redis.call('ZADD', turns, t, tenant) end
  return popped[1] or false
end

-- End a request and start the retention clock of every key it owns.
local function finish(id, status, now, expires_at, retention_ms, error_type, message)
  local req = k_request(id)
  local r = redis.call('HMGET', req, 'tenant', 'endpoint', 'seq', 'idem_key', 'created_at', 'started_at')
  redis.call('HSET', req, 'status', status, 'completed_at', now, 'expires_at', expires_at)
  count_end(r[2], status, r[5], r[6], now)
  if error_type then redis.call('HSET', req, 'error_type', error_type, 'error', message) end
  drop_entry(k_queue(r[2]), redis.call('HGET', req, 'entry') or (r[3] .. '-0'))
  leave_waiting(r[2], r[1], id)
  for _, key in ipairs({req, k_inputs(id), k_outputs(id)}) do redis.call('PEXPIRE', key, retention_ms) end
  if r[4] then redis.call('PEXPIRE', r[4], retention_ms) end
  redis.call('ZADD', K_expiry, expires_at, r[1] .. ' ' .. id)
  redis.call('SREM', k_active(r[1]), id)
  webhook_event(id, 'completed', now)
end

-- Call visit(entry, idle, id) on each entry idle for lease_ms or more, oldest first,
-- until it returns true.
local function each_expired(queue, lease_ms, visit)
  local start = '-'
  while true do
    local page = redis.call('XPENDING', queue, GROUP, 'IDLE', lease_ms, start, '+', 100)
    for _, p in ipairs(page) do
      local found = redis.call('XRANGE', queue, p[1], p[1])
      if #found == 0 then redis.call('XACK', queue, GROUP, p[1])
      elseif visit(p[1], p[3], found[1][2][2]) then return true end
    end
    if #page < 100 then return false end
    start = '(' .. page[#page][1]
  end
end

-- An entry idle past the caller's lease: the request's status if it may run again; false
-- when its holder's own (longer) lease still runs, or when it ends here (failed after
-- max_attempts, appended to failed; or already over).
local function may_rerun(queue, entry, idle, id, max_attempts, now, expires_at, retention_ms, failed)
  local h = redis.call('HMGET', k_request(id), 'status', 'attempts', 'lease_ms')
  if h[1] == 'pending' then return h[1] end
  if h[1] ~= 'running' then drop_entry(queue, entry); return false end
  if idle < tonumber(h[3]) then return false end
  if tonumber(h[2]) < tonumber(max_attempts) then return h[1] end
  redis.call('HDEL', k_request(id), 'lease_id')
  finish(id, 'failed', now, expires_at, retention_ms, 'inference_failed',
    'its worker was lost ' .. h[2] .. ' times (no heartbeat within the lease); giving up')
  failed[#failed + 1] = id
  return false
end

-- Delete an ended request's keys and index entries (retention, or its owner's DELETE).
local function forget(tenant, id)
  local idem = redis.call('HGET', k_request(id), 'idem_key')
  if idem then redis.call('DEL', idem) end
  redis.call('DEL', k_request(id), k_inputs(id), k_outputs(id))
  forget_webhooks(id)
  redis.call('ZREM', k_tenant(tenant), id)
  redis.call('ZREM', K_all_requests, id)
  redis.call('ZREM', K_expiry, tenant .. ' ' .. id)
end

"""


def _script(body: str) -> str:
    return lua_prelude() + _COUNTING + OUTBOX_LUA + _HELPERS + body


# ARGV: prefix, id, tenant, endpoint, now, expires_at, body_hash, inputs, idempotency key ('' for none),
# webhook ('' for none), webhook events
# → {'created'|'exists', request} | {'conflict', id of the first request}
ENQUEUE = _script("""
local id, tenant, endpoint, idem = ARGV[2], ARGV[3], ARGV[4], ARGV[9]
local req = k_request(id)
-- the id is fresh for each submit: finding it means this is a replay of our own call
if redis.call('EXISTS', req) == 1 then return {'created', redis.call('HGETALL', req)} end
if idem ~= '' then
  local prior = redis.call('HMGET', idem, 'response_id', 'body_hash')
  if prior[1] and redis.call('EXISTS', k_request(prior[1])) == 1 then
    if prior[2] ~= ARGV[7] then return {'conflict', prior[1]} end
    return {'exists', redis.call('HGETALL', k_request(prior[1]))}
  end
  redis.call('DEL', idem)
  redis.call('HSET', idem, 'response_id', id, 'body_hash', ARGV[7])
end
local seq = redis.call('INCR', K_seq)
redis.call('HSET', req, 'response_id', id, 'tenant', tenant, 'endpoint', endpoint, 'status', 'pending',
  'created_at', ARGV[5], 'expires_at', ARGV[6], 'attempts', 0, 'seq', seq)
if idem ~= '' then redis.call('HSET', req, 'idem_key', idem) end
if ARGV[10] ~= '' then redis.call('HSET', req, 'webhook', ARGV[10], 'webhook_events', ARGV[11]) end
redis.call('SET', k_inputs(id), ARGV[8])
redis.call('ZADD', k_tenant(tenant), seq, id)
redis.call('ZADD', K_all_requests, seq, id)
redis.call('SADD', k_active(tenant), id)
local queue = k_queue(endpoint)
if redis.call('EXISTS', queue) == 0 then
  redis.call('XGROUP', 'CREATE', queue, GROUP, '0', 'MKSTREAM')
  redis.call('SADD', K_endpoints, endpoint)
end
join_waiting(endpoint, tenant, seq, id)
return {'created', redis.call('HGETALL', req)}
""")

# ARGV: prefix, id, tenant → {request, queue position or -1} | nil
GET = _script("""
local flat = redis.call('HGETALL', k_request(ARGV[2]))
local h = fields(flat)
if h.tenant ~= ARGV[3] then return false end
if h.status ~= 'pending' then return {flat, -1} end
-- the fair position: this tenant's requests ahead of it, plus, from each other tenant
-- waiting, as many as round robin serves first (one more where that tenant's turn comes first)
local rank = redis.call('ZRANK', waiting_of(h.endpoint, h.tenant), ARGV[2])
if not rank then return {flat, 0} end  -- back after a lost lease: it goes ahead of the rest
local turns = k_turns(h.endpoint)
local mine, ahead = tonumber(redis.call('ZSCORE', turns, h.tenant)), rank
local others = redis.call('ZRANGE', turns, 0, -1, 'WITHSCORES')
for i = 1, #others, 2 do
  local tenant, score = others[i], tonumber(others[i + 1])
  if tenant ~= h.tenant then
    local first = (score < mine or (score == mine and tenant < h.tenant)) and 1 or 0
    ahead = ahead + math.min(redis.call('ZCARD', waiting_of(h.endpoint, tenant)), rank + first)
  end
end
return {flat, ahead}
""")

# ARGV: prefix, id, tenant, now, expires_at, retention_ms → request | nil
CANCEL = _script("""
local req = k_request(ARGV[2])
local h = redis.call('HMGET', req, 'tenant', 'status')
if h[1] ~= ARGV[3] then return false end
if h[2] == 'pending' or h[2] == 'running' then
  redis.call('HDEL', req, 'lease_id')
  finish(ARGV[2], 'cancelled', ARGV[4], ARGV[5], ARGV[6], false, false)
end
return redis.call('HGETALL', req)
""")

# ARGV: prefix, endpoint, worker_id, lease nonce, now, lease_ms, max_attempts, expires_at, retention_ms
# → {ids failed for lost leases, {request, inputs} | nil}
CLAIM = _script("""
local queue, worker, now = k_queue(ARGV[2]), ARGV[3], ARGV[5]
local failed, claimed = {}, false
if redis.call('EXISTS', queue) == 0 then return {failed, false} end
local function take(id)
  local req = k_request(id)
  redis.call('HSET', req, 'status', 'running', 'lease_id', id .. '.' .. ARGV[4], 'lease_ms', ARGV[6],
    'worker_id', worker, 'started_at', now)
  redis.call('HDEL', req, 'progress')
  if redis.call('HINCRBY', req, 'attempts', 1) == 1 then webhook_event(id, 'start', now) end
  return {redis.call('HGETALL', req), redis.call('GET', k_inputs(id))}
end
each_expired(queue, ARGV[6], function(entry, idle, id)
  if not may_rerun(queue, entry, idle, id, ARGV[7], now, ARGV[8], ARGV[9], failed) then return false end
  redis.call('XCLAIM', queue, GROUP, worker, 0, entry, 'JUSTID')
  claimed = take(id)
  return true
end)
-- entries queued straight into the stream by an earlier version go first, as they did
local function read_stream()
  while not claimed do
    local read = redis.call('XREADGROUP', 'GROUP', GROUP, worker, 'COUNT', 1, 'STREAMS', queue, '>')
    if not read then return end
    local entry = read[1][2][1]
    if redis.call('HGET', k_request(entry[2][2]), 'status') == 'pending' then
      redis.call('HSET', k_request(entry[2][2]), 'entry', entry[1])
      claimed = take(entry[2][2])
    else
      drop_entry(queue, entry[1])
    end
  end
end
if not claimed then read_stream() end
while not claimed do
  local id = next_in_turn(ARGV[2])
  if id == nil then break end
  if id and redis.call('HGET', k_request(id), 'status') == 'pending' then
    redis.call('XADD', queue, '*', 'id', id)
    read_stream()
  end
end
return {failed, claimed}
""")

# ARGV: prefix, worker_id, endpoint, ready ('1'/'0'), lease_ms, setup error ('' for none), lease ids...
# → lease ids lost
HEARTBEAT = _script("""
if ARGV[6] ~= '' then redis.call('SET', k_setup_error(ARGV[3]), ARGV[6])
elseif ARGV[4] == '1' then redis.call('DEL', k_setup_error(ARGV[3])) end
local worker, lease_ms, ready, t = ARGV[2], tonumber(ARGV[5]), k_ready(ARGV[3]), now_ms()
redis.call('SADD', K_endpoints, ARGV[3])
local alive = k_workers(ARGV[3])
redis.call('ZADD', alive, t, worker)
redis.call('ZREMRANGEBYSCORE', alive, '-inf', '(' .. (t - lease_ms))
if ARGV[4] == '1' then redis.call('ZADD', ready, t, worker) else redis.call('ZREM', ready, worker) end
redis.call('ZREMRANGEBYSCORE', ready, '-inf', '(' .. (t - lease_ms))
local lost = {}
for i = 7, #ARGV do
  local id = string.match(ARGV[i], '^[^.]+')
  local h = redis.call('HMGET', k_request(id), 'status', 'lease_id', 'endpoint', 'seq', 'entry')
  if h[1] == 'running' and h[2] == ARGV[i] then
    redis.call('XCLAIM', k_queue(h[3]), GROUP, worker, 0, h[5] or (h[4] .. '-0'), 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
""")

# ARGV: prefix, id, lease_id, status, now, expires_at, retention_ms, error_type, error, output → 1 | 0
# The lease id stays on a request its worker finished, so a replay of this call returns 1 again.
FINISH = _script("""
local id = ARGV[2]
local h = redis.call('HMGET', k_request(id), 'status', 'lease_id')
if h[2] ~= ARGV[3] then return 0 end
if h[1] == ARGV[4] then return 1 end
if h[1] ~= 'running' then return 0 end
if ARGV[4] == 'completed' then redis.call('SET', k_outputs(id), ARGV[10]) end
local error_type = false
if ARGV[8] ~= '' then error_type = ARGV[8] end
finish(id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], error_type, ARGV[9])
return 1
""")

# ARGV: prefix, id, lease_id, progress → 1 | 0
PROGRESS = _script("""
local req = k_request(ARGV[2])
local h = redis.call('HMGET', req, 'status', 'lease_id')
if h[1] ~= 'running' or h[2] ~= ARGV[3] then return 0 end
redis.call('HSET', req, 'progress', ARGV[4])
return 1
""")

# ARGV: prefix, endpoint, lease_ms, max_attempts, now, expires_at, retention_ms → {failed ids, requeued}
REAP = _script("""
local queue, lease_ms = k_queue(ARGV[2]), tonumber(ARGV[3])
local failed, requeued = {}, 0
if redis.call('EXISTS', queue) == 0 then return {failed, 0} end
each_expired(queue, lease_ms, function(entry, idle, id)
  if may_rerun(queue, entry, idle, id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], failed) == 'running' then
    redis.call('HSET', k_request(id), 'status', 'pending')
    redis.call('HDEL', k_request(id), 'lease_id', 'worker_id')
    requeued = requeued + 1
  end
  return false
end)
-- a consumer with nothing pending holds no state (XREADGROUP recreates it): forget idle ones
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', queue, GROUP)) do
  local info = fields(c)
  if info.pending == 0 and info.idle > lease_ms then
    redis.call('XGROUP', 'DELCONSUMER', queue, GROUP, info.name)
  end
end
return {failed, requeued}
""")

# ARGV: prefix, now, limit → how many requests were deleted
EXPIRE = _script("""
local gone = redis.call('ZRANGEBYSCORE', K_expiry, '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(gone) do
  local tenant, id = string.match(member, '^(.*) (%S+)$')
  forget(tenant, id)
end
return #gone
""")

# ARGV: prefix, id, tenant → the status the request had, deleted if it was terminal | nil (not the tenant's)
DELETE = _script("""
local h = redis.call('HMGET', k_request(ARGV[2]), 'tenant', 'status')
if h[1] ~= ARGV[3] then return false end
if h[2] == 'completed' or h[2] == 'failed' or h[2] == 'cancelled' then forget(ARGV[3], ARGV[2]) end
return h[2]
""")

# ARGV: prefix, worker_id, reason, max_attempts, now, expires_at, retention_ms
# → {failed ids, the endpoint of each requeued request}
# A requeued entry is made to look idle since long ago, so the next claim takes it over at once.
RELEASE_WORKER = _script("""
local worker, failed, requeued = ARGV[2], {}, {}
local function release(queue, endpoint, entry)
  local found = redis.call('XRANGE', queue, entry, entry)
  if #found == 0 then redis.call('XACK', queue, GROUP, entry); return end
  local id = found[1][2][2]
  local h = redis.call('HMGET', k_request(id), 'status', 'attempts', 'worker_id')
  if h[1] ~= 'running' or h[3] ~= worker then return end
  redis.call('HDEL', k_request(id), 'lease_id', 'worker_id')
  if tonumber(h[2]) >= tonumber(ARGV[4]) then
    finish(id, 'failed', ARGV[5], ARGV[6], ARGV[7], 'inference_failed',
      ARGV[3] .. '; giving up after ' .. h[2] .. ' attempts')
    failed[#failed + 1] = id
  else
    redis.call('HSET', k_request(id), 'status', 'pending')
    redis.call('XCLAIM', queue, GROUP, worker, 0, entry, 'IDLE', now_ms() - 1000, 'JUSTID')
    requeued[#requeued + 1] = endpoint
  end
end
for _, endpoint in ipairs(redis.call('SMEMBERS', K_endpoints)) do
  local queue = k_queue(endpoint)
  redis.call('ZREM', k_ready(endpoint), worker)
  redis.call('ZREM', k_workers(endpoint), worker)
  if redis.call('EXISTS', queue) == 1 then
    local start = '-'
    repeat
      local page = redis.call('XPENDING', queue, GROUP, start, '+', 100, worker)
      for _, p in ipairs(page) do release(queue, endpoint, p[1]) end
      if #page > 0 then start = '(' .. page[#page][1] end
    until #page < 100
  end
end
return {failed, requeued}
""")

# ARGV: prefix, endpoint, lease_ms → how many ready workers heartbeated within the lease
READY_WORKERS = _script("""
return redis.call('ZCOUNT', k_ready(ARGV[2]), '(' .. (now_ms() - tonumber(ARGV[3])), '+inf')
""")

# ARGV: prefix, endpoint, lease_ms → {pending, running, created_at of the oldest pending | nil,
# workers, ready workers}. Reads the delivered entries (running, or requeued after a lost
# lease), the first undelivered one and each waiting tenant's first: what is in flight and
# the heads of the queues, never the whole backlog.
ENDPOINT_STATS = _script("""
local queue, since = k_queue(ARGV[2]), '(' .. (now_ms() - tonumber(ARGV[3]))
local workers = redis.call('ZCOUNT', k_workers(ARGV[2]), since, '+inf')
local ready = redis.call('ZCOUNT', k_ready(ARGV[2]), since, '+inf')
if redis.call('EXISTS', queue) == 0 then return {0, 0, false, workers, ready} end
local pending, running, delivered, oldest = 0, 0, 0, false
local function seen_pending(created_at)
  pending = pending + 1
  if created_at and (not oldest or tonumber(created_at) < tonumber(oldest)) then oldest = created_at end
end
local start = '-'
repeat
  local page = redis.call('XPENDING', queue, GROUP, start, '+', 100)
  for _, p in ipairs(page) do
    local found = redis.call('XRANGE', queue, p[1], p[1])
    if #found > 0 then
      delivered = delivered + 1
      local h = redis.call('HMGET', k_request(found[1][2][2]), 'status', 'created_at')
      if h[1] == 'running' then running = running + 1 elseif h[1] == 'pending' then seen_pending(h[2]) end
    end
  end
  if #page > 0 then start = '(' .. page[#page][1] end
until #page < 100
local last = '0-0'
for _, group in ipairs(redis.call('XINFO', 'GROUPS', queue)) do
  local g = fields(group)
  if g.name == GROUP then last = g['last-delivered-id'] end
end
local undelivered = redis.call('XLEN', queue) - delivered
local head = redis.call('XRANGE', queue, '(' .. last, '+', 'COUNT', 1)
if #head > 0 then seen_pending(redis.call('HGET', k_request(head[1][2][2]), 'created_at')) end
pending = pending + math.max(0, undelivered - #head)
for _, tenant in ipairs(redis.call('ZRANGE', k_turns(ARGV[2]), 0, -1)) do
  local waiting = waiting_of(ARGV[2], tenant)
  local first = redis.call('ZRANGE', waiting, 0, 0)
  if #first > 0 then seen_pending(redis.call('HGET', k_request(first[1]), 'created_at')) end
  pending = pending + math.max(0, redis.call('ZCARD', waiting) - #first)
end
return {pending, running, oldest, workers, ready}
""")

# ARGV: prefix, worker_id
REMOVE_WORKER = _script("""
for _, endpoint in ipairs(redis.call('SMEMBERS', K_endpoints)) do
  redis.call('ZREM', k_ready(endpoint), ARGV[2])
  redis.call('ZREM', k_workers(endpoint), ARGV[2])
end
return 0
""")

# ARGV: prefix, sha256 of the token → token hash fields | nil (unknown or revoked)
AUTHENTICATE = _script("""
local token_id = redis.call('GET', k_token_hash(ARGV[2]))
if not token_id then return false end
return redis.call('HGETALL', k_token(token_id))
""")

# ARGV: prefix, token id, now → 1 | 0 (no such live token)
REVOKE_TOKEN = _script("""
local token = k_token(ARGV[2])
local h = redis.call('HMGET', token, 'hash', 'revoked_at')
if not h[1] or h[2] then return 0 end
redis.call('HSET', token, 'revoked_at', ARGV[3])
redis.call('DEL', k_token_hash(h[1]))
return 1
""")

SCRIPTS = {
    "enqueue": ENQUEUE,
    "get": GET,
    "cancel": CANCEL,
    "claim": CLAIM,
    "heartbeat": HEARTBEAT,
    "finish": FINISH,
    "progress": PROGRESS,
    "reap": REAP,
    "expire": EXPIRE,
    "delete": DELETE,
    "release_worker": RELEASE_WORKER,
    "ready_workers": READY_WORKERS,
    "endpoint_stats": ENDPOINT_STATS,
    "remove_worker": REMOVE_WORKER,
    "authenticate": AUTHENTICATE,
    "revoke_token": REVOKE_TOKEN,
    **OUTBOX_SCRIPTS,
}
