-- A user's live families. KEYS[1] the user's family index (family-hash keys in this tenant's slot).
-- Returns a flat list {family id, ct, ut, cl, ...}; keys that expired or were revoked are dropped from the index.
local out = {}
for _, family in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local f = redis.call('HMGET', family, 'rev', 'ct', 'ut', 'cl', 'fid')
  if not f[1] then
    redis.call('SREM', KEYS[1], family)
  elseif f[1] == '0' then
    table.insert(out, f[5] or '')
    table.insert(out, f[2] or '0')
    table.insert(out, f[3] or '0')
    table.insert(out, f[4] or '{}')
  end
end
return out
