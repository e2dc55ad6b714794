-- Rotate a refresh-token family atomically.
-- KEYS[1] family hash {cur, rev}; ARGV[1] presented token id, ARGV[2] new token id, ARGV[3] TTL ms.
-- Returns 0 unknown family, 1 rotated, 2 already revoked, 3 reuse (the family is revoked now).
local state = redis.call('HMGET', KEYS[1], 'cur', 'rev')
if not state[1] then return 0 end
if state[2] == '1' then return 2 end
if state[1] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'rev', '1')
  return 3
end
redis.call('HSET', KEYS[1], 'cur', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
