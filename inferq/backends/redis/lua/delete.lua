-- ARGV: prefix, id, tenant → the status the request had, deleted if it was terminal | nil (not the tenant's)
local h = redis.call('HMGET', k_request(ARGV[2]), 'tenant', 'status')
if h[1] ~= ARGV[3] then return false end
if TERMINAL[h[2]] then forget(ARGV[3], ARGV[2]) end
return h[2]
