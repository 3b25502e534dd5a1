-- ARGV: prefix, id, tenant, new webhook_id, now → the new delivery's hash | nil
local h = redis.call('HMGET', k_request(ARGV[2]), 'tenant', 'webhook')
if h[1] ~= ARGV[3] or not h[2] then return false end
local latest = redis.call('ZRANGE', k_webhooks(ARGV[2]), -1, -1)
if #latest == 0 then return false end
local prior = redis.call('HMGET', k_webhook(latest[1]), 'event', 'created_at')
add_delivery(ARGV[2], ARGV[3], ARGV[4], prior[1], h[2], prior[2], ARGV[5])
return redis.call('HGETALL', k_webhook(ARGV[4]))
