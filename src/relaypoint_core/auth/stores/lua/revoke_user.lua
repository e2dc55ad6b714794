-- Revoke every family of a user and record their not-before time, in one step.
-- KEYS[1] the user's family index (a set of family-hash keys, all in this tenant's slot);
-- KEYS[2] the user's not-before key. ARGV[1] not-before (s), ARGV[2] its TTL ms.
-- Returns how many live families were revoked.
local revoked = 0
for _, family in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('HGET', family, 'rev') == '0' then
    redis.call('HSET', family, 'rev', '1')
    redis.call('HDEL', family, 'prev', 'gu', 'rp')
    revoked = revoked + 1
  end
end
redis.call('DEL', KEYS[1])
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) > previous then
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
else
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return revoked
