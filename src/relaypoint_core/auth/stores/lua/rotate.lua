-- Rotate a refresh-token family atomically, with an optional grace window for the token just rotated.
-- KEYS[1] family hash {cur, rev, prev, gu, rp, ut, ...}; KEYS[2] (optional) the user's family index.
-- ARGV[1] presented token id, ARGV[2] new token id, ARGV[3] TTL ms, ARGV[4] now (s),
-- ARGV[5] grace (s; 0 = off), ARGV[6] replay blob returned to later callers within the grace.
-- Returns {0} unknown family, {1} rotated, {2} already revoked, {3} reuse (family revoked now),
-- {4, replay} the presented token was rotated less than the grace window ago.
local state = redis.call('HMGET', KEYS[1], 'cur', 'rev', 'prev', 'gu')
if not state[1] then return {0} end
if state[2] == '1' then return {2} end
local now = tonumber(ARGV[4])
if state[1] ~= ARGV[1] then
  if state[3] == ARGV[1] and state[4] and now < tonumber(state[4]) then
    return {4, redis.call('HGET', KEYS[1], 'rp')}
  end
  redis.call('HSET', KEYS[1], 'rev', '1')
  redis.call('HDEL', KEYS[1], 'prev', 'gu', 'rp')
  return {3}
end
if tonumber(ARGV[5]) > 0 then
  redis.call('HSET', KEYS[1], 'prev', ARGV[1], 'gu', string.format('%.3f', now + tonumber(ARGV[5])), 'rp', ARGV[6])
else
  redis.call('HDEL', KEYS[1], 'prev', 'gu', 'rp')
end
redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'ut', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if KEYS[2] and redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return {1}
