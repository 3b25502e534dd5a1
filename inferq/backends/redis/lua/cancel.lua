-- ARGV: prefix, id, tenant, now, expires_at, retention_ms → request | nil
local req = k_request(ARGV[2])
local h = redis.call('HMGET', req, 'tenant', 'status')
if h[1] ~= ARGV[3] then return false end
if BEFORE['cancel'][h[2]] then
  redis.call('HDEL', req, 'lease_id')
  end_request(ARGV[2], 'cancel', ARGV[4], ARGV[5], ARGV[6], false, false)
end
return redis.call('HGETALL', req)
