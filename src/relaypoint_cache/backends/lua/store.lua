-- Store one cache entry and index it under its tenant namespace.
-- KEYS[1] value key, KEYS[2] namespace index (a set of escaped keys), KEYS[3] lease key.
-- ARGV[1] payload, ARGV[2] ttl ms, ARGV[3] index member, ARGV[4] fencing token or '',
-- ARGV[5] the value-key prefix that members are relative to.
-- All keys share the tenant's hash tag, so this runs on one Cluster slot.
-- Returns 1 when written, 0 when the caller's lease is no longer its own: it expired (and may
-- have been taken by a newer holder whose value must not be overwritten by this older one).
if ARGV[4] ~= '' then
  if redis.call('GET', KEYS[3]) ~= ARGV[4] then
    return 0
  end
  redis.call('DEL', KEYS[3])
end
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('PTTL', KEYS[2]) < ttl then
  redis.call('PEXPIRE', KEYS[2], ttl)
end
-- Amortised clean-up: each write checks two random members and drops those whose entry is gone,
-- so the index tracks the live entries instead of growing with every key ever written.
for _, member in ipairs(redis.call('SRANDMEMBER', KEYS[2], 2)) do
  if redis.call('EXISTS', ARGV[5] .. member) == 0 then
    redis.call('SREM', KEYS[2], member)
  end
end
return 1
