local function add_delivery(id, tenant, wid, event, url, created_at, due)
  redis.call('HSET', k_webhook(wid), 'webhook_id', wid, 'response_id', id, 'tenant', tenant, 'event', event,
    'url', url, 'created_at', created_at, 'state', 'pending', 'next_attempt_at', due, 'attempts', 0)
  redis.call('ZADD', k_webhooks(id), redis.call('INCR', K_webhook_seq), wid)
  redis.call('ZADD', K_webhooks_due, due, wid)
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
    redis.call('DEL', k_webhook(wid))
    redis.call('ZREM', K_webhooks_due, wid)
  end
  redis.call('DEL', k_webhooks(id))
end
