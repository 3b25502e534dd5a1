-- ARGV: prefix, now, lease_until, lease_id, limit → delivery hashes
local leased = {}
for _, wid in ipairs(redis.call('ZRANGEBYSCORE', K_webhooks_due, '-inf', ARGV[2], 'LIMIT', 0, ARGV[5])) do
  local hook = k_webhook(wid)
  if redis.call('HGET', hook, 'state') == 'pending' then
    redis.call('ZADD', K_webhooks_due, ARGV[3], wid)
    redis.call('HSET', hook, 'lease_id', ARGV[4])
    leased[#leased + 1] = redis.call('HGETALL', hook)
  else
    redis.call('ZREM', K_webhooks_due, wid)
  end
end
return leased
