-- ARGV: prefix, id ('' for a request not queued yet), endpoint, tenant, order key (for '')
-- → {rank | false, {share, virtual time, waiting, waiting cost} of the tenant | false,
--    the same of each other tenant waiting, {requeued ahead, their cost}, status}
-- What inferq.domain.scheduling.fair_place reads; numbers as strings. A request back after a
-- lost worker waits in the stream's pending entries (status pending), which claims take
-- over first, in entry order; it has no rank.
local queue = k_queue(ARGV[3])
local function requeued_before(stop)
  if redis.call('EXISTS', queue) == 0 then return {0, '0'} end
  local count, cost, start = 0, 0, '-'
  repeat
    local page = redis.call('XPENDING', queue, GROUP, start, '+', 100)
    for _, p in ipairs(page) do
      if p[1] == stop then return {count, tostring(cost)} end
      local found = redis.call('XRANGE', queue, p[1], p[1])
      if #found > 0 then
        local h = redis.call('HMGET', k_request(found[1][2][2]), 'status', 'cost')
        if h[1] == 'pending' then
          count = count + 1
          cost = cost + tonumber(h[2] or 1)
        end
      end
    end
    if #page > 0 then start = '(' .. page[#page][1] end
  until #page < 100
  return {count, tostring(cost)}
end
-- Urgent requests go after the requeued ones and before every share: the ``urgent`` entries
-- ahead, counted with the requeued.
local function ahead_of_shares(urgent)
  local first = requeued_before(false)
  local cost = tonumber(first[2])
  for _, entry in ipairs(urgent) do
    cost = cost + tonumber(redis.call('HGET', k_request(entry_id(entry)), 'cost') or 1)
  end
  return {first[1] + #urgent, tostring(cost)}
end
local status, rank = 'pending', false
local waiting = waiting_of(ARGV[3], ARGV[4])
if ARGV[2] == '' then
  if tonumber(ARGV[5]) < 0 then
    return {false, false, {}, ahead_of_shares(redis.call('ZRANGEBYSCORE', k_urgent(ARGV[3]), '-inf', ARGV[5])), status}
  end
  rank = redis.call('ZCOUNT', waiting, '-inf', ARGV[5])
else
  status = redis.call('HGET', k_request(ARGV[2]), 'status')
  if status ~= 'pending' then return {false, false, {}, {0, '0'}, status or false} end
  local urgent = redis.call('ZRANK', k_urgent(ARGV[3]), waiting_entry(ARGV[2]))
  if urgent then
    local before = urgent > 0 and redis.call('ZRANGE', k_urgent(ARGV[3]), 0, urgent - 1) or {}
    return {false, false, {}, ahead_of_shares(before), status}
  end
  rank = redis.call('ZRANK', waiting, waiting_entry(ARGV[2])) or redis.call('ZRANK', waiting, ARGV[2])
  if not rank then
    local h = redis.call('HMGET', k_request(ARGV[2]), 'entry', 'seq')
    return {false, false, {}, requeued_before(h[1] or (h[2] .. '-0')), status}
  end
end
migrate_turns(ARGV[3])
local shares, costs = k_shares(ARGV[3]), k_waiting_cost(ARGV[3])
local mine = false
local others = {}
local scored = redis.call('ZRANGE', shares, 0, -1, 'WITHSCORES')
for i = 1, #scored, 2 do
  local tenant = entry_id(scored[i])
  local turn = {scored[i], scored[i + 1], redis.call('ZCARD', waiting_of(ARGV[3], tenant)), redis.call('HGET', costs, tenant) or '0'}
  if tenant == ARGV[4] then mine = turn else others[#others + 1] = turn end
end
if not mine then -- not waiting yet: it would join last, at its own virtual time or the clock, whichever is ahead
  local own = tonumber(redis.call('HGET', k_vtimes(ARGV[3]), ARGV[4]) or 0)
  mine = {share_of(redis.call('GET', K_seq) or 0, '~'), tostring(math.max(own, tonumber(redis.call('GET', k_vclock(ARGV[3])) or 0))), 0, '0'}
end
return {rank, mine, others, ahead_of_shares(redis.call('ZRANGE', k_urgent(ARGV[3]), 0, -1)), status}
