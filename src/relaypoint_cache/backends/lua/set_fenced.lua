-- KEYS[1] value key, KEYS[2] lease key; ARGV[1] fencing token, ARGV[2] payload, ARGV[3] ttl ms.
-- Writes the value only while the caller still holds the lease (or nobody holds it any more),
-- so a holder whose lease expired cannot overwrite the newer value of the next holder.
-- Returns 1 when written, 0 when another holder owns the lease now.
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if holder then
  redis.call('DEL', KEYS[2])
end
return 1
