-- ARGV: prefix, worker_id
for _, endpoint in ipairs(redis.call('SMEMBERS', K_endpoints)) do
  redis.call('ZREM', k_ready(endpoint), ARGV[2])
  redis.call('ZREM', k_workers(endpoint), ARGV[2])
end
return 0
