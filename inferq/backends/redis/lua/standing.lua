-- ARGV: prefix, id, endpoint, tenant → {rank | false, the tenant's turn score, {tenant, score, waiting}...}
-- What inferq.domain.lifecycle.fair_position reads; rank false for a request back after a lost lease.
local rank = redis.call('ZRANK', waiting_of(ARGV[3], ARGV[4]), ARGV[2])
if not rank then return {false, false, {}} end
local turns = k_turns(ARGV[3])
local others = {}
local scored = redis.call('ZRANGE', turns, 0, -1, 'WITHSCORES')
for i = 1, #scored, 2 do
  if scored[i] ~= ARGV[4] then
    others[#others + 1] = {scored[i], scored[i + 1], redis.call('ZCARD', waiting_of(ARGV[3], scored[i]))}
  end
end
return {rank, redis.call('ZSCORE', turns, ARGV[4]), others}
