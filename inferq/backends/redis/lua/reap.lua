-- ARGV: prefix, endpoint, lease_ms, max_attempts, now, expires_at, retention_ms → {ids given up on, requeued}
local queue, lease_ms = k_queue(ARGV[2]), tonumber(ARGV[3])
local gave_up, requeued = {}, 0
if redis.call('EXISTS', queue) == 0 then return {gave_up, 0} end
each_expired(queue, lease_ms, function(entry, idle, id)
  if may_rerun(queue, entry, idle, id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], gave_up) == 'running' then
    close_attempt(id, 'requeue', ARGV[5])
    redis.call('HSET', k_request(id), 'status', AFTER['requeue'])
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
return {gave_up, requeued}
