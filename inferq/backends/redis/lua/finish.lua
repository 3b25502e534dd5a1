-- ARGV: prefix, id, lease_id, move ('complete' | 'fail'), now, expires_at, retention_ms, error_type, error, output
-- → 1 | 0. The lease id stays on a request its worker finished, so a replay of this call returns 1 again.
local id, move = ARGV[2], ARGV[4]
local h = redis.call('HMGET', k_request(id), 'status', 'lease_id')
if h[2] ~= ARGV[3] then return 0 end
if h[1] == AFTER[move] then return 1 end
if h[1] ~= 'running' then return 0 end
if ARGV[8] == '' then redis.call('SET', k_outputs(id), ARGV[10]) end
local error_type = false
if ARGV[8] ~= '' then error_type = ARGV[8] end
end_request(id, move, ARGV[5], ARGV[6], ARGV[7], error_type, ARGV[9])
return 1
