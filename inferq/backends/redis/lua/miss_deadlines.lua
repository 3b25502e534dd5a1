-- ARGV: prefix, now, expires_at, retention_ms, limit → the requests cancelled, as they are now
local missed = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', K_deadlines, '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[5]))) do
  local req = k_request(id)
  if BEFORE['miss_deadline'][redis.call('HGET', req, 'status')] then
    redis.call('HDEL', req, 'lease_id')
    end_request(id, 'miss_deadline', ARGV[2], ARGV[3], ARGV[4], DEADLINE_ERROR_TYPE, DEADLINE_ERROR)
    missed[#missed + 1] = redis.call('HGETALL', req)
  else
    redis.call('ZREM', K_deadlines, id)
  end
end
return missed
