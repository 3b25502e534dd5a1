-- ARGV: prefix, webhook_id, lease_id, state, next_attempt_at ('' for none), attempt (JSON) → 1 | 0
local wid, hook = ARGV[2], k_webhook(ARGV[2])
if redis.call('HGET', hook, 'lease_id') ~= ARGV[3] then return 0 end
local n = redis.call('HINCRBY', hook, 'attempts', 1)
redis.call('HSET', hook, 'state', ARGV[4], 'attempt:' .. n, ARGV[6])
redis.call('HDEL', hook, 'lease_id')
local tenant = redis.call('HGET', hook, 'tenant')
if ARGV[5] == '' then
  redis.call('HDEL', hook, 'next_attempt_at')
  unschedule(tenant, wid)
else
  redis.call('HSET', hook, 'next_attempt_at', ARGV[5])
  schedule(tenant, wid, ARGV[5])
end
return 1
