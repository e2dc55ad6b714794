-- Start a refresh-token family. KEYS[1] family hash; KEYS[2] (optional) the user's family index.
-- ARGV[1] token id, ARGV[2] TTL ms, ARGV[3] now (s), ARGV[4] user id, ARGV[5] client hints (JSON),
-- ARGV[6] family id.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'cur', ARGV[1], 'rev', '0', 'ct', ARGV[3], 'ut', ARGV[3], 'usr', ARGV[4], 'cl', ARGV[5], 'fid', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[2] then
  redis.call('SADD', KEYS[2], KEYS[1])
  if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
  end
end
return 1
