-- ARGV: prefix, worker_id, lease ids... → lease ids lost
-- Claiming an entry again resets its idle time: that is what extends the lease.
local worker, lost = ARGV[2], {}
for i = 3, #ARGV do
  local id = string.match(ARGV[i], '^[^.]+')
  local h = redis.call('HMGET', k_request(id), 'status', 'lease_id', 'endpoint', 'seq', 'entry')
  if h[1] == 'running' and h[2] == ARGV[i] then
    redis.call('XCLAIM', k_queue(h[3]), GROUP, worker, 0, h[5] or (h[4] .. '-0'), 'JUSTID')
  else
    lost[#lost + 1] = ARGV[i]
  end
end
return lost
