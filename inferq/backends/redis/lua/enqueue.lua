-- ARGV: prefix, id, tenant, endpoint, now, expires_at, body_hash, inputs, idempotency key ('' for none),
-- webhook ('' for none), webhook events, priority, cost, order key, retention_ms ('' for the server's),
-- deadline_at ('' for none), the server's retention_ms, retry_of ('' for none), reuse key ('' for none),
-- reuse ('1' to answer it from a completed request with its reuse key)
-- → {'created'|'exists', request} | {'conflict', id of the first request}
local id, tenant, endpoint, idem = ARGV[2], ARGV[3], ARGV[4], ARGV[9]
local req = k_request(id)
-- the id is fresh for each submit: finding it means this is a replay of our own call
if redis.call('EXISTS', req) == 1 then return {'created', redis.call('HGETALL', req)} end
if idem ~= '' then
  local prior = redis.call('HMGET', idem, 'response_id', 'body_hash')
  if prior[1] and redis.call('EXISTS', k_request(prior[1])) == 1 then
    if prior[2] ~= ARGV[7] then return {'conflict', prior[1]} end
    return {'exists', redis.call('HGETALL', k_request(prior[1]))}
  end
  redis.call('DEL', idem)
  redis.call('HSET', idem, 'response_id', id, 'body_hash', ARGV[7])
end
local seq = redis.call('INCR', K_seq)
redis.call('HSET', req, 'response_id', id, 'tenant', tenant, 'endpoint', endpoint, 'status', AFTER['submit'],
  'created_at', ARGV[5], 'expires_at', ARGV[6], 'attempts', 0, 'seq', seq, 'priority', ARGV[12], 'cost', ARGV[13])
if ARGV[15] ~= '' then redis.call('HSET', req, 'retention_ms', ARGV[15]) end
if ARGV[16] ~= '' then
  redis.call('HSET', req, 'deadline_at', ARGV[16])
  redis.call('ZADD', K_deadlines, ARGV[16], id)
end
if idem ~= '' then redis.call('HSET', req, 'idem_key', idem) end
if ARGV[10] ~= '' then redis.call('HSET', req, 'webhook', ARGV[10], 'webhook_events', ARGV[11]) end
redis.call('SET', k_inputs(id), ARGV[8])
redis.call('ZADD', k_tenant(tenant), seq, id)
redis.call('ZADD', K_all_requests, seq, id)
redis.call('SADD', k_active(tenant), id)
local queue = k_queue(endpoint)
if redis.call('EXISTS', queue) == 0 then
  redis.call('XGROUP', 'CREATE', queue, GROUP, '0', 'MKSTREAM')
  redis.call('SADD', K_endpoints, endpoint)
end
join_waiting(endpoint, tenant, ARGV[14], id, ARGV[13], seq)
if ARGV[18] ~= '' then
  redis.call('HSET', req, 'retry_of', ARGV[18])
  local original = k_request(ARGV[18])
  if redis.call('HGET', original, 'tenant') == tenant then redis.call('HSET', original, 'retried_by', id) end
end
if ARGV[19] ~= '' then
  redis.call('HSET', req, 'reuse_key', ARGV[19])
  local twin = ARGV[20] == '1' and redis.call('GET', k_reusable(ARGV[19]))
  local found = twin and redis.call('HMGET', k_request(twin), 'tenant', 'status', 'reuse_key')
  local output = found and found[1] == tenant and found[2] == 'completed' and found[3] == ARGV[19]
    and redis.call('GET', k_outputs(twin))
  if output then
    redis.call('SET', k_outputs(id), output)
    redis.call('HSET', req, 'reused_from', twin)
    end_request(id, 'reuse', ARGV[5], ARGV[6], ARGV[17], false, false)
  end
end
return {'created', redis.call('HGETALL', req)}
