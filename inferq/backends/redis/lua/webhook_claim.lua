-- ARGV: prefix, now, lease_until, lease_id, limit, per_tenant ('' for no share), busy (JSON tenant → count)
-- → delivery hashes
-- Deliveries an earlier version queued in one set move to their tenants' sets first.
local legacy = redis.call('ZRANGE', K_webhooks_due, 0, 999, 'WITHSCORES')
for i = 1, #legacy, 2 do
  local tenant = redis.call('HGET', k_webhook(legacy[i]), 'tenant')
  if tenant then schedule(tenant, legacy[i], legacy[i + 1]) end
  redis.call('ZREM', K_webhooks_due, legacy[i])
end
local limit, busy = tonumber(ARGV[5]), cjson.decode(ARGV[7])
local due = {}
for _, tenant in ipairs(redis.call('ZRANGEBYSCORE', K_webhook_tenants, '-inf', ARGV[2])) do
  local room = limit
  if ARGV[6] ~= '' then room = math.min(limit, tonumber(ARGV[6]) - (busy[tenant] or 0)) end
  if room > 0 then
    local taken = redis.call('ZRANGEBYSCORE', k_tenant_webhooks(tenant), '-inf', ARGV[2], 'WITHSCORES', 'LIMIT', 0, room)
    for i = 1, #taken, 2 do due[#due + 1] = {tonumber(taken[i + 1]), taken[i], tenant} end
  end
end
table.sort(due, function(a, b) return a[1] < b[1] end)
local leased = {}
for i = 1, math.min(limit, #due) do
  local wid, tenant = due[i][2], due[i][3]
  local hook = k_webhook(wid)
  if redis.call('HGET', hook, 'state') == 'pending' then
    schedule(tenant, wid, ARGV[3])
    redis.call('HSET', hook, 'lease_id', ARGV[4])
    leased[#leased + 1] = redis.call('HGETALL', hook)
  else
    unschedule(tenant, wid)
  end
end
return leased
