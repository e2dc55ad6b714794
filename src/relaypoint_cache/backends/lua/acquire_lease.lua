-- KEYS[1] lease key, KEYS[2] fencing counter; ARGV[1] lease ttl in ms.
-- Returns the new fencing token when the lease was free, else 0.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
