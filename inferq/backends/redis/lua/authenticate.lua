-- ARGV: prefix, sha256 of the token → token hash fields | nil (unknown or revoked)
local token_id = redis.call('GET', k_token_hash(ARGV[2]))
if not token_id then return false end
return redis.call('HGETALL', k_token(token_id))
