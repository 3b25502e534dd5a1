-- A pending delivery waits in its tenant's set, scored by when a deliverer may take it (its
-- next attempt, or the end of the lease while one is being sent); webhook_tenants orders the
-- tenants by their soonest, so a claim walks the tenants, never one tenant's backlog.
local function schedule(tenant, wid, at)
  local due = k_tenant_webhooks(tenant)
  redis.call('ZADD', due, at, wid)
  redis.call('ZADD', K_webhook_tenants, redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')[2], tenant)
end

local function unschedule(tenant, wid)
  local due = k_tenant_webhooks(tenant)
  redis.call('ZREM', due, wid)
  local first = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
  if #first == 0 then
    redis.call('ZREM', K_webhook_tenants, tenant)
  else
    redis.call('ZADD', K_webhook_tenants, first[2], tenant)
  end
end

local function add_delivery(id, tenant, wid, event, url, created_at, due)
  redis.call('HSET', k_webhook(wid), 'webhook_id', wid, 'response_id', id, 'tenant', tenant, 'event', event,
    'url', url, 'created_at', created_at, 'state', 'pending', 'next_attempt_at', due, 'attempts', 0)
  redis.call('ZADD', k_webhooks(id), redis.call('INCR', K_webhook_seq), wid)
  schedule(tenant, wid, due)
end

-- Queue a delivery of event (happened at `at`) when the request's webhook filter asks for it.
local function webhook_event(id, event, at)
  local h = redis.call('HMGET', k_request(id), 'webhook', 'webhook_events', 'tenant')
  if not h[1] or not string.find(',' .. h[2] .. ',', ',' .. event .. ',', 1, true) then return end
  local t = redis.call('TIME')
  local wid = 'msg_' .. string.sub(redis.sha1hex(id .. event .. t[1] .. '.' .. t[2] .. redis.call('INCR', K_webhook_seq)), 1, 32)
  add_delivery(id, h[3], wid, event, h[1], at, at)
end

local function forget_webhooks(id)
  for _, wid in ipairs(redis.call('ZRANGE', k_webhooks(id), 0, -1)) do
    local tenant = redis.call('HGET', k_webhook(wid), 'tenant')
    if tenant then unschedule(tenant, wid) end
    redis.call('DEL', k_webhook(wid))
    redis.call('ZREM', K_webhooks_due, wid)  -- queued by an earlier version, not claimed since
  end
  redis.call('DEL', k_webhooks(id))
end
