-- ARGV: prefix, worker_id, reason, max_attempts, now, expires_at, retention_ms
-- → {ids given up on, the endpoint of each requeued request}
-- A requeued entry is made to look idle since long ago, so the next claim takes it over at once.
local worker, gave_up, requeued = ARGV[2], {}, {}
local function release(queue, endpoint, entry)
  local found = redis.call('XRANGE', queue, entry, entry)
  if #found == 0 then redis.call('XACK', queue, GROUP, entry); return end
  local id = found[1][2][2]
  local h = redis.call('HMGET', k_request(id), 'status', 'attempts', 'worker_id', 'progressed')
  if h[1] ~= 'running' or h[3] ~= worker then return end
  redis.call('HDEL', k_request(id), 'lease_id', 'worker_id')
  if gives_up(h[2], h[4], ARGV[4]) then
    end_request(id, 'give_up', ARGV[5], ARGV[6], ARGV[7], GIVE_UP_ERROR_TYPE, worker_died_error(ARGV[3], h[2]))
    gave_up[#gave_up + 1] = id
  else
    close_attempt(id, 'requeue', ARGV[5])
    redis.call('HSET', k_request(id), 'status', AFTER['requeue'])
    redis.call('XCLAIM', queue, GROUP, worker, 0, entry, 'IDLE', now_ms() - 1000, 'JUSTID')
    requeued[#requeued + 1] = endpoint
  end
end
for _, endpoint in ipairs(redis.call('SMEMBERS', K_endpoints)) do
  local queue = k_queue(endpoint)
  if redis.call('EXISTS', queue) == 1 then
    local start = '-'
    repeat
      local page = redis.call('XPENDING', queue, GROUP, start, '+', 100, worker)
      for _, p in ipairs(page) do release(queue, endpoint, p[1]) end
      if #page > 0 then start = '(' .. page[#page][1] end
    until #page < 100
  end
end
return {gave_up, requeued}
