-- ARGV: prefix, now, limit → how many requests were deleted
local gone = redis.call('ZRANGEBYSCORE', K_expiry, '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(gone) do
  local tenant, id = string.match(member, '^(.*) (%S+)$')
  forget(tenant, id)
end
return #gone
