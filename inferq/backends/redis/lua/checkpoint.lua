-- ARGV: prefix, id, lease_id, state, outputs... → 1 | 0
local id = ARGV[2]
local req = k_request(id)
local h = redis.call('HMGET', req, 'status', 'lease_id', 'attempts')
if h[1] ~= 'running' or h[2] ~= ARGV[3] then return 0 end
redis.call('SET', k_checkpoint(id), ARGV[4])
if #ARGV > 4 then
  redis.call('RPUSH', k_partial(id), unpack(ARGV, 5))
  redis.call('HINCRBY', req, 'partial_outputs', #ARGV - 4)
end
redis.call('HSET', req, 'progressed', h[3])
return 1
