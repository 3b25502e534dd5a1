-- ARGV: prefix, id, endpoint, tenant
-- → {rank | false, the tenant's turn score | false, {{tenant, score, waiting}...}, requeued ahead, status}
-- What inferq.domain.lifecycle.fair_position reads. A request back after a lost worker waits
-- in the stream's pending entries (status pending), which claims take over first, in entry
-- order; it has no rank.
local queue = k_queue(ARGV[3])
local function requeued_before(stop)
  if redis.call('EXISTS', queue) == 0 then return 0 end
  local count, start = 0, '-'
  repeat
    local page = redis.call('XPENDING', queue, GROUP, start, '+', 100)
    for _, p in ipairs(page) do
      if p[1] == stop then return count end
      local found = redis.call('XRANGE', queue, p[1], p[1])
      if #found > 0 and redis.call('HGET', k_request(found[1][2][2]), 'status') == 'pending' then
        count = count + 1
      end
    end
    if #page > 0 then start = '(' .. page[#page][1] end
  until #page < 100
  return count
end
local status = redis.call('HGET', k_request(ARGV[2]), 'status')
if status ~= 'pending' then return {false, false, {}, 0, status or false} end
local rank = redis.call('ZRANK', waiting_of(ARGV[3], ARGV[4]), ARGV[2])
if not rank then
  local h = redis.call('HMGET', k_request(ARGV[2]), 'entry', 'seq')
  return {false, false, {}, requeued_before(h[1] or (h[2] .. '-0')), status}
end
local turns = k_turns(ARGV[3])
local others = {}
local scored = redis.call('ZRANGE', turns, 0, -1, 'WITHSCORES')
for i = 1, #scored, 2 do
  if scored[i] ~= ARGV[4] then
    others[#others + 1] = {scored[i], scored[i + 1], redis.call('ZCARD', waiting_of(ARGV[3], scored[i]))}
  end
end
return {rank, redis.call('ZSCORE', turns, ARGV[4]), others, requeued_before(false), status}
