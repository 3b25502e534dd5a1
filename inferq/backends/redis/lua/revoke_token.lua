-- ARGV: prefix, token id, now → 1 | 0 (no such live token)
local token = k_token(ARGV[2])
local h = redis.call('HMGET', token, 'hash', 'revoked_at')
if not h[1] or h[2] then return 0 end
redis.call('HSET', token, 'revoked_at', ARGV[3])
redis.call('DEL', k_token_hash(h[1]))
return 1
