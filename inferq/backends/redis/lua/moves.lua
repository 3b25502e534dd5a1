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

-- Fair shares across tenants (inferq.domain.scheduling): a request waits in its tenant's
-- zset of the endpoint by its order key, and the endpoint's shares zset orders the tenants
-- with requests waiting by virtual time (ties in the order they joined). A claim takes the first tenant's
-- first request, sets the endpoint's virtual clock to that tenant's virtual time, adds the
-- request's cost to it, and only then adds the request to the stream, whose pending
-- entries remain the leases. Numbers go back to Python as strings (a Lua number in a reply
-- is cut to an integer).
local function waiting_of(endpoint, tenant) return k_waiting(endpoint .. ' ' .. tenant) end
-- A waiting entry is '<seq> <id>', the seq zero-padded, so that equal order keys (a batch
-- submitted at one instant) go in submit order; an earlier version's entries are bare ids.
local function waiting_entry(id) return string.format('%016d', tonumber(redis.call('HGET', k_request(id), 'seq'))) .. ' ' .. id end
local function entry_id(entry) return entry:match(' (.+)$') or entry end

-- A share is '<seq> <tenant>', the seq (zero-padded) of the request it joined with, so that
-- tenants at the same virtual time go in the order they joined; ``joined`` maps each
-- tenant waiting to its share.
local function share_of(seq, tenant) return string.format('%016d', tonumber(seq)) .. ' ' .. tenant end

-- The count-fair turns of an earlier version become shares at the clock, once.
local function migrate_turns(endpoint)
  local turns = k_turns(endpoint)
  if redis.call('EXISTS', turns) == 0 then return end
  local clock = redis.call('GET', k_vclock(endpoint)) or '0'
  for _, tenant in ipairs(redis.call('ZRANGE', turns, 0, -1)) do
    local cost = 0
    for _, entry in ipairs(redis.call('ZRANGE', waiting_of(endpoint, tenant), 0, -1)) do
      cost = cost + tonumber(redis.call('HGET', k_request(entry_id(entry)), 'cost') or 1)
    end
    if not redis.call('HGET', k_joined(endpoint), tenant) then
      redis.call('ZADD', k_shares(endpoint), clock, share_of(0, tenant))
      redis.call('HSET', k_joined(endpoint), tenant, share_of(0, tenant))
    end
    redis.call('HSET', k_waiting_cost(endpoint), tenant, cost)
  end
  redis.call('DEL', turns, k_served(endpoint))
end

-- An urgent request (a negative order key: inferq.domain.scheduling) waits outside the
-- shares, in the endpoint's urgent zset, which claims take from before any share.
local function join_waiting(endpoint, tenant, key, id, cost, seq)
  if tonumber(key) < 0 then
    redis.call('ZADD', k_urgent(endpoint), key, waiting_entry(id))
    return
  end
  migrate_turns(endpoint)
  redis.call('ZADD', waiting_of(endpoint, tenant), key, waiting_entry(id))
  redis.call('HINCRBYFLOAT', k_waiting_cost(endpoint), tenant, cost)
  if not redis.call('HGET', k_joined(endpoint), tenant) then
    local own = tonumber(redis.call('HGET', k_vtimes(endpoint), tenant) or 0)
    local clock = tonumber(redis.call('GET', k_vclock(endpoint)) or 0)
    redis.call('ZADD', k_shares(endpoint), math.max(own, clock), share_of(seq, tenant))
    redis.call('HSET', k_joined(endpoint), tenant, share_of(seq, tenant))
  end
end

-- The tenant has nothing waiting any more: it keeps its virtual time for when it comes back.
local function stop_waiting(endpoint, tenant, share, virtual_time)
  redis.call('ZREM', k_shares(endpoint), share)
  redis.call('HDEL', k_joined(endpoint), tenant)
  redis.call('HDEL', k_waiting_cost(endpoint), tenant)
  redis.call('HSET', k_vtimes(endpoint), tenant, virtual_time)
end

local function leave_waiting(endpoint, tenant, id)
  if redis.call('ZREM', k_urgent(endpoint), waiting_entry(id)) == 1 then return end
  local waiting = waiting_of(endpoint, tenant)
  if redis.call('ZREM', waiting, waiting_entry(id), id) == 0 then return end
  if redis.call('ZCARD', waiting) == 0 then
    local share = redis.call('HGET', k_joined(endpoint), tenant)
    stop_waiting(endpoint, tenant, share, share and redis.call('ZSCORE', k_shares(endpoint), share) or 0)
  else
    redis.call('HINCRBYFLOAT', k_waiting_cost(endpoint), tenant, -tonumber(redis.call('HGET', k_request(id), 'cost') or 1))
  end
end

-- The first urgent request, else the first waiting request of the tenant whose share is due,
-- now counted as served; nil if none.
local function next_in_turn(endpoint)
  local urgent = redis.call('ZPOPMIN', k_urgent(endpoint))[1]
  if urgent then return entry_id(urgent) end
  migrate_turns(endpoint)
  local shares = k_shares(endpoint)
  local first = redis.call('ZRANGE', shares, 0, 0, 'WITHSCORES')
  local share, virtual_time = first[1], first[2]
  if not share then return nil end
  local tenant = entry_id(share)
  local waiting = waiting_of(endpoint, tenant)
  local popped = redis.call('ZPOPMIN', waiting)[1]
  local id = popped and entry_id(popped)
  local cost = id and tonumber(redis.call('HGET', k_request(id), 'cost') or 1) or 0
  redis.call('SET', k_vclock(endpoint), virtual_time)
  local after = tonumber(virtual_time) + cost
  if redis.call('ZCARD', waiting) == 0 then
    stop_waiting(endpoint, tenant, share, after)
  else
    redis.call('ZADD', shares, after, share)
    redis.call('HINCRBYFLOAT', k_waiting_cost(endpoint), tenant, -cost)
  end
  return id or false
end

-- Queue what a move emits (EVENT, generated from inferq.domain.lifecycle) when the request asked for it.
local function emit(id, move, attempts, at)
  local event = EVENT[move]
  if event and (not FIRST_ATTEMPT_ONLY[move] or tonumber(attempts) == 1) then webhook_event(id, event, at) end
end

-- A request's runs, a JSON list of {worker, started_at, ended_at, outcome} (times as the
-- strings Python sent): a claim opens one, a move out of 'running' closes it (ATTEMPT_OUTCOME).
local function open_attempt(id, worker, now)
  local req = k_request(id)
  local history = cjson.decode(redis.call('HGET', req, 'history') or '[]')
  history[#history + 1] = {worker = worker, started_at = now}
  redis.call('HSET', req, 'history', cjson.encode(history))
end
local function close_attempt(id, move, now)
  local req = k_request(id)
  local raw = redis.call('HGET', req, 'history')
  if not raw or redis.call('HGET', req, 'status') ~= 'running' then return end
  local history = cjson.decode(raw)
  history[#history].ended_at = now
  history[#history].outcome = ATTEMPT_OUTCOME[move]
  redis.call('HSET', req, 'history', cjson.encode(history))
end

-- Make a move that ends a request: count the end, and start the retention clock of every key it owns.
-- A request's own retention, when it asked for one, replaces the server's. A completed
-- request becomes the one its reuse key finds.
local function end_request(id, move, now, expires_at, retention_ms, error_type, message)
  local req = k_request(id)
  close_attempt(id, move, now)
  local r = redis.call('HMGET', req, 'tenant', 'endpoint', 'seq', 'idem_key', 'created_at', 'started_at', 'attempts',
    'retention_ms', 'cost', 'reuse_key')
  if r[8] then
    retention_ms = r[8]
    expires_at = tostring(tonumber(now) + tonumber(r[8]) / 1000)
  end
  local status = AFTER[move]
  redis.call('HSET', req, 'status', status, 'completed_at', now, 'expires_at', expires_at)
  count_end(r[2], status, r[5], r[6], now, r[9] or 1)
  if error_type then redis.call('HSET', req, 'error_type', error_type, 'error', message) end
  drop_entry(k_queue(r[2]), redis.call('HGET', req, 'entry') or (r[3] .. '-0'))
  leave_waiting(r[2], r[1], id)
  for _, key in ipairs({req, k_inputs(id), k_outputs(id), k_checkpoint(id), k_partial(id)}) do
    redis.call('PEXPIRE', key, retention_ms)
  end
  if r[4] then redis.call('PEXPIRE', r[4], retention_ms) end
  redis.call('ZADD', K_expiry, expires_at, r[1] .. ' ' .. id)
  redis.call('SREM', k_active(r[1]), id)
  redis.call('ZREM', K_deadlines, id)
  if r[10] and status == 'completed' then redis.call('SET', k_reusable(r[10]), id, 'PX', retention_ms) end
  emit(id, move, r[7], now)
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
-- when its holder's own (longer) lease still runs, or when it ends here (given up after
-- max_attempts, appended to gave_up; or already over).
local function may_rerun(queue, entry, idle, id, max_attempts, now, expires_at, retention_ms, gave_up)
  local h = redis.call('HMGET', k_request(id), 'status', 'attempts', 'lease_ms', 'progressed')
  if h[1] == 'pending' then return h[1] end
  if h[1] ~= 'running' then drop_entry(queue, entry); return false end
  if idle < tonumber(h[3]) then return false end
  if not gives_up(h[2], h[4], max_attempts) then return h[1] end
  redis.call('HDEL', k_request(id), 'lease_id')
  end_request(id, 'give_up', now, expires_at, retention_ms, GIVE_UP_ERROR_TYPE, lease_lost_error(h[2]))
  gave_up[#gave_up + 1] = id
  return false
end

-- Delete an ended request's keys and index entries (retention, or its owner's DELETE).
local function forget(tenant, id)
  local h = redis.call('HMGET', k_request(id), 'idem_key', 'reuse_key')
  if h[1] then redis.call('DEL', h[1]) end
  if h[2] and redis.call('GET', k_reusable(h[2])) == id then redis.call('DEL', k_reusable(h[2])) end
  redis.call('DEL', k_request(id), k_inputs(id), k_outputs(id), k_checkpoint(id), k_partial(id))
  forget_webhooks(id)
  redis.call('ZREM', k_tenant(tenant), id)
  redis.call('ZREM', K_all_requests, id)
  redis.call('ZREM', K_expiry, tenant .. ' ' .. id)
end

