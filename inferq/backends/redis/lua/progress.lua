-- ARGV: prefix, id, lease_id, progress → 1 | 0
local req = k_request(ARGV[2])
local h = redis.call('HMGET', req, 'status', 'lease_id')
if h[1] ~= 'running' or h[2] ~= ARGV[3] then return 0 end
redis.call('HSET', req, 'progress', ARGV[4])
return 1
