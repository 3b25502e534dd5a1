-- ARGV: prefix, endpoint → {pending, running, created_at of the oldest pending | nil}. Reads the delivered entries (running, or requeued after a lost
-- lease), the first undelivered one and each waiting tenant's first: what is in flight and
-- the heads of the queues, never the whole backlog (a tenant's oldest is taken to be its
-- first in order, which its shorter work may precede).
local queue = k_queue(ARGV[2])
if redis.call('EXISTS', queue) == 0 then return {0, 0, false} end
local pending, running, delivered, oldest = 0, 0, 0, false
local function seen_pending(created_at)
  pending = pending + 1
  if created_at and (not oldest or tonumber(created_at) < tonumber(oldest)) then oldest = created_at end
end
local start = '-'
repeat
  local page = redis.call('XPENDING', queue, GROUP, start, '+', 100)
  for _, p in ipairs(page) do
    local found = redis.call('XRANGE', queue, p[1], p[1])
    if #found > 0 then
      delivered = delivered + 1
      local h = redis.call('HMGET', k_request(found[1][2][2]), 'status', 'created_at')
      if h[1] == 'running' then running = running + 1 elseif h[1] == 'pending' then seen_pending(h[2]) end
    end
  end
  if #page > 0 then start = '(' .. page[#page][1] end
until #page < 100
local last = '0-0'
for _, group in ipairs(redis.call('XINFO', 'GROUPS', queue)) do
  local g = fields(group)
  if g.name == GROUP then last = g['last-delivered-id'] end
end
local undelivered = redis.call('XLEN', queue) - delivered
local head = redis.call('XRANGE', queue, '(' .. last, '+', 'COUNT', 1)
if #head > 0 then seen_pending(redis.call('HGET', k_request(head[1][2][2]), 'created_at')) end
pending = pending + math.max(0, undelivered - #head)
migrate_turns(ARGV[2])
for _, share in ipairs(redis.call('ZRANGE', k_shares(ARGV[2]), 0, -1)) do
  local waiting = waiting_of(ARGV[2], entry_id(share))
  local first = redis.call('ZRANGE', waiting, 0, 0)
  if #first > 0 then seen_pending(redis.call('HGET', k_request(entry_id(first[1])), 'created_at')) end
  pending = pending + math.max(0, redis.call('ZCARD', waiting) - #first)
end
local urgent = k_urgent(ARGV[2])
local first = redis.call('ZRANGE', urgent, 0, 0)
if #first > 0 then seen_pending(redis.call('HGET', k_request(entry_id(first[1])), 'created_at')) end
pending = pending + math.max(0, redis.call('ZCARD', urgent) - #first)
return {pending, running, oldest}
