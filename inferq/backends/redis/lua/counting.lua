local function observe(counters, name, seconds)
  seconds = math.max(0, seconds)
  local le = '+Inf'
  for _, b in ipairs(BOUNDS) do
    if seconds <= b[1] then le = b[2]; break end
  end
  redis.call('HINCRBY', counters, name .. ':le:' .. le, 1)
  redis.call('HINCRBYFLOAT', counters, name .. ':sum', seconds)
end

local function count_end(endpoint, status, created_at, started_at, now, cost)
  local counters = k_counters(endpoint)
  redis.call('HINCRBY', counters, 'finished:' .. status, 1)
  if not started_at then return end
  local created, started, ended = tonumber(created_at), tonumber(started_at), tonumber(now)
  if status == 'completed' then
    redis.call('HINCRBYFLOAT', counters, PACE_RUN, math.max(0, ended - started))
    redis.call('HINCRBYFLOAT', counters, PACE_COST, cost)
  end
  observe(counters, 'queue_wait', started - created)
  observe(counters, 'run', ended - started)
  observe(counters, 'end_to_end', ended - created)
end
