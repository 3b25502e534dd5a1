-- ARGV: prefix, endpoint, lease_ms → {workers, ready workers} that beat within the lease (Redis's clock)
local since = '(' .. (now_ms() - tonumber(ARGV[3]))
return {redis.call('ZCOUNT', k_workers(ARGV[2]), since, '+inf'), redis.call('ZCOUNT', k_ready(ARGV[2]), since, '+inf')}
