-- KEYS[1] revoked-token marker; KEYS[2] (optional) family hash. Returns 1 if either says revoked.
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
if KEYS[2] and redis.call('HGET', KEYS[2], 'rev') == '1' then return 1 end
return 0
