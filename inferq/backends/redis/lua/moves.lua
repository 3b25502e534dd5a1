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

-- Queue what a move emits (EVENT, generated from inferq.domain.lifecycle) when the request asked for it.
local function emit(id, move, attempts, at)
  local event = EVENT[move]
  if event and (not FIRST_ATTEMPT_ONLY[move] or tonumber(attempts) == 1) then webhook_event(id, event, at) end
end

-- Make a move that ends a request: count the end, and start the retention clock of every key it owns.
local function end_request(id, move, now, expires_at, retention_ms, error_type, message)
  local req = k_request(id)
  local r = redis.call('HMGET', req, 'tenant', 'endpoint', 'seq', 'idem_key', 'created_at', 'started_at', 'attempts')
  local status = AFTER[move]
  redis.call('HSET', req, 'status', status, 'completed_at', now, 'expires_at', expires_at)
  count_end(r[2], status, r[5], r[6], now)
  if error_type then redis.call('HSET', req, 'error_type', error_type, 'error', message) end
  drop_entry(k_queue(r[2]), redis.call('HGET', req, 'entry') or (r[3] .. '-0'))
  leave_waiting(r[2], r[1], id)
  for _, key in ipairs({req, k_inputs(id), k_outputs(id), k_checkpoint(id), k_partial(id)}) do
    redis.call('PEXPIRE', key, retention_ms)
  end
  if r[4] then redis.call('PEXPIRE', r[4], retention_ms) end
  redis.call('ZADD', K_expiry, expires_at, r[1] .. ' ' .. id)
  redis.call('SREM', k_active(r[1]), id)
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
  local idem = redis.call('HGET', k_request(id), 'idem_key')
  if idem then redis.call('DEL', idem) end
  redis.call('DEL', k_request(id), k_inputs(id), k_outputs(id), k_checkpoint(id), k_partial(id))
  forget_webhooks(id)
  redis.call('ZREM', k_tenant(tenant), id)
  redis.call('ZREM', K_all_requests, id)
  redis.call('ZREM', K_expiry, tenant .. ' ' .. id)
end

