-- relaypoint_ratelimit: concurrency leases in one sorted set (member: lease token, score: expiry).
--
-- KEYS[1]  the policy's lease set for one subject
-- ARGV[1]  'a' acquire, 'n' renew, 'r' release
-- ARGV[2]  the lease token
-- ARGV[3]  the limit (acquire)
-- ARGV[4]  the lease's time to live in µs (acquire, renew)
--
-- Expired leases (their holder died or hung) are dropped before counting, so a lease outlives
-- its holder by at most its time to live. Times are µs of the server clock.
-- Reply: acquire {granted 0/1, leases held, now_us, earliest expiry when refused}; renew {0/1}.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local key, op, token = KEYS[1], ARGV[1], ARGV[2]

if op == 'r' then
  redis.call('ZREM', key, token)
  return {1}
end

local ttl = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if op == 'n' then
  if not redis.call('ZSCORE', key, token) then return {0} end
  redis.call('ZADD', key, now + ttl, token)
  redis.call('PEXPIRE', key, math.ceil(ttl / 1000) + 1000)
  return {1}
end

local held = redis.call('ZCARD', key)
local mine = redis.call('ZSCORE', key, token)
if mine or held < tonumber(ARGV[3]) then
  redis.call('ZADD', key, now + ttl, token)
  redis.call('PEXPIRE', key, math.ceil(ttl / 1000) + 1000)
  if not mine then held = held + 1 end
  return {1, held, now, 0}
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, held, now, math.floor(tonumber(oldest[2]))}
