-- Mark a family revoked, keeping its TTL. KEYS[1] family hash. Returns 0 if unknown, else 1.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'rev', '1')
redis.call('HDEL', KEYS[1], 'prev', 'gu', 'rp')
return 1
