-- ARGV: prefix, worker_id, endpoint, ready ('1'/'0'), lease_ms, setup error ('' for none)
-- Liveness is judged by Redis's clock, so machines whose clocks disagree still agree on it.
if ARGV[6] ~= '' then redis.call('SET', k_setup_error(ARGV[3]), ARGV[6])
elseif ARGV[4] == '1' then redis.call('DEL', k_setup_error(ARGV[3])) end
local worker, lease_ms, ready, t = ARGV[2], tonumber(ARGV[5]), k_ready(ARGV[3]), now_ms()
redis.call('SADD', K_endpoints, ARGV[3])
local alive = k_workers(ARGV[3])
redis.call('ZADD', alive, t, worker)
redis.call('ZREMRANGEBYSCORE', alive, '-inf', '(' .. (t - lease_ms))
if ARGV[4] == '1' then redis.call('ZADD', ready, t, worker) else redis.call('ZREM', ready, worker) end
redis.call('ZREMRANGEBYSCORE', ready, '-inf', '(' .. (t - lease_ms))
return 0
