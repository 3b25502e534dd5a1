-- ARGV: prefix, id, tenant → delivery hashes, oldest first | nil (not the tenant's)
if redis.call('HGET', k_request(ARGV[2]), 'tenant') ~= ARGV[3] then return false end
local log = {}
for _, wid in ipairs(redis.call('ZRANGE', k_webhooks(ARGV[2]), 0, -1)) do
  log[#log + 1] = redis.call('HGETALL', k_webhook(wid))
end
return log
