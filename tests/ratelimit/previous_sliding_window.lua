-- relaypoint_ratelimit: check (and count) every sliding-window counter of one request, atomically.
--
-- KEYS[1]      the user's stored-tier key (only read when ARGV[2] ~= '?'); any key of the slot otherwise
-- KEYS[2..n+1] one hash per window counter: field = bucket index, value = cost counted in that bucket
-- ARGV[1]      'c' to count the request when every counter admits it, 'p' to only look
-- ARGV[2]      the stored tier the caller assumed ('' = none stored), or '?' to skip the tier check
-- ARGV[3..]    per counter: window_us, bucket_us, limit, cost, shadow (1: never refuses)
--
-- A request is admitted only if, for every counter that is not a shadow counter, the cost counted in every bucket that can
-- overlap [now - window, now] plus this request's cost stays within the limit. Counting whole
-- buckets (the oldest one only partly overlaps) can refuse early, never admit late: no interval of
-- a window's length ever holds more than its limit. A refused request writes nothing. A shadow
-- counter that would refuse an admitted request reports its retry time and does not count it.
--
-- Reply: {status, now_us, stored_tier, then per counter: used, oldest_bucket, retry_at_us}
-- status 0 admitted, 1 refused, 2 stored tier differs from ARGV[2] (nothing read or written).
-- Times are integer microseconds of the server clock (below 2^52, so the divisions are exact).

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local expected = ARGV[2]
if expected ~= '?' then
  local stored = redis.call('GET', KEYS[1])
  if not stored then stored = '' end
  if stored ~= expected then
    return {2, now, stored}
  end
end

local consume = ARGV[1] == 'c'
local n = #KEYS - 1
local refused = false
local lows, useds, oldests, flats, overs = {}, {}, {}, {}, {}

for i = 1, n do
  local base = 3 + (i - 1) * 5
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local low = math.floor((now - window) / bucket)
  local flat = redis.call('HGETALL', KEYS[i + 1])
  local used, oldest = 0, -1
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index >= low then
      used = used + tonumber(flat[j + 1])
      if oldest < 0 or index < oldest then oldest = index end
    end
  end
  lows[i], useds[i], oldests[i], flats[i] = low, used, oldest, flat
  overs[i] = used + cost > limit
  if overs[i] and ARGV[base + 4] ~= '1' then refused = true end
end

-- The earliest moment enough old buckets have left the window for this cost to fit.
local function retry_at(i, window, bucket, limit, cost)
  if cost > limit then return -1 end
  local live, counts = {}, {}
  local flat = flats[i]
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index >= lows[i] then
      live[#live + 1] = index
      counts[index] = tonumber(flat[j + 1])
    end
  end
  table.sort(live)
  local left = useds[i]
  for _, index in ipairs(live) do
    left = left - counts[index]
    if left + cost <= limit then return (index + 1) * bucket + window end
  end
  return 0
end

local reply = {0, now, ''}

if refused or not consume then
  if refused then reply[1] = 1 end
  for i = 1, n do
    local base = 3 + (i - 1) * 5
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local limit = tonumber(ARGV[base + 2])
    local cost = tonumber(ARGV[base + 3])
    local used = useds[i]
    local at = 0
    if overs[i] then at = retry_at(i, window, bucket, limit, cost) end
    reply[#reply + 1] = used
    reply[#reply + 1] = oldests[i]
    reply[#reply + 1] = at
  end
  return reply
end

for i = 1, n do
  local base = 3 + (i - 1) * 5
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local key = KEYS[i + 1]
  if overs[i] then
    -- A shadow counter that would refuse: leave it as an enforced one would have.
    reply[#reply + 1] = useds[i]
    reply[#reply + 1] = oldests[i]
    reply[#reply + 1] = retry_at(i, window, bucket, limit, cost)
  else
    local index = math.floor(now / bucket)
    local counted = redis.call('HINCRBY', key, string.format('%d', index), cost)
    local flat = flats[i]
    for j = 1, #flat, 2 do
      if tonumber(flat[j]) < lows[i] then redis.call('HDEL', key, flat[j]) end
    end
    -- A new bucket lives until (index + 1) * bucket + window < now + window + bucket: extending the
    -- key's life when a bucket is created is enough; later uses of that bucket change nothing.
    if counted == cost then
      redis.call('PEXPIRE', key, math.ceil((window + bucket) / 1000) + 1)
    end
    local oldest = oldests[i]
    if oldest < 0 then oldest = index end
    reply[#reply + 1] = useds[i] + cost
    reply[#reply + 1] = oldest
    reply[#reply + 1] = 0
  end
end
return reply
