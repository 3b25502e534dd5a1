-- ARGV: prefix, endpoint, worker_id, lease nonce, now, lease_ms, max_attempts, expires_at, retention_ms
-- → {ids failed for lost leases, {request, inputs} | nil}
local queue, worker, now = k_queue(ARGV[2]), ARGV[3], ARGV[5]
local failed, claimed = {}, false
if redis.call('EXISTS', queue) == 0 then return {failed, false} end
local function take(id)
  local req = k_request(id)
  close_attempt(id, 'requeue', now)  -- an expired lease taken over: its run ended with its worker lost
  redis.call('HSET', req, 'status', AFTER['claim'], 'lease_id', id .. '.' .. ARGV[4], 'lease_ms', ARGV[6],
    'worker_id', worker, 'started_at', now)
  redis.call('HDEL', req, 'progress')
  open_attempt(id, worker, now)
  emit(id, 'claim', redis.call('HINCRBY', req, 'attempts', 1), now)
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
