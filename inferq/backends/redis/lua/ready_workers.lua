-- ARGV: prefix, endpoint, lease_ms → how many ready workers heartbeated within the lease
return redis.call('ZCOUNT', k_ready(ARGV[2]), '(' .. (now_ms() - tonumber(ARGV[3])), '+inf')
