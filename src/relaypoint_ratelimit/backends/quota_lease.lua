-- relaypoint_ratelimit: check one request and lease a slice of every window's remaining budget.
--
-- KEYS[1]      the user's stored-tier key (only read when ARGV[1] ~= '?'); any key of the slot otherwise
-- KEYS[2]      the lease holders of this request's windows (sorted set: holder token -> lease end, µs)
-- KEYS[3..n+2] one hash per window counter: field = bucket index, value = cost counted in that bucket
-- ARGV[1]      the stored tier the caller assumed ('' = none stored), or '?' to skip the tier check
-- ARGV[2]      the holder's token (one per limiter process)
-- ARGV[3]      s_max, the largest slice granted
-- ARGV[4]      k, the spread: a slice is at most 1 / (k * holders) of the smallest remaining budget
-- ARGV[5]      the request's cost
-- ARGV[6]      units of this holder's previous slice to give back first (0: none)
-- ARGV[7..]    per counter: window_us, bucket_us, limit, bucket index of the previous slice
--
-- The request is checked exactly as sliding_window.lua checks it. When it fits, it is counted
-- together with a slice s = min(s_max, floor(R / (k * n))), R the smallest budget left after the
-- request, n the live holders counting this one: cost + s is added to the current bucket of every
-- counter at once, so the slice is counted before any of it is admitted and no window ever holds
-- more than its limit. s may be 0 (then this was an exact check). A slice is valid only until the
-- earliest end of those buckets: the reply says how long, in µs. The previous slice's unused
-- units are given back in the same call, as quota_return.lua would, so one holder never has two
-- slices of these windows counted.
--
-- Reply: {status, now_us, stored_tier, slice, valid_us, then per counter: used, oldest_bucket,
-- retry_at_us}; status 0 admitted (used includes cost + slice), 1 refused (nothing counted),
-- 2 stored tier differs from ARGV[1] (nothing counted). The previous slice goes back in every case.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

local cost = tonumber(ARGV[5])
local n = #KEYS - 2

local back = tonumber(ARGV[6])
if back > 0 then
  for i = 1, n do
    local base = 7 + (i - 1) * 4
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local index = tonumber(ARGV[base + 3])
    if index >= math.floor((now - window) / bucket) then
      local field = string.format('%d', index)
      local counted = tonumber(redis.call('HGET', KEYS[i + 2], field) or '0')
      if counted > 0 then
        if back >= counted then
          redis.call('HDEL', KEYS[i + 2], field)
        else
          redis.call('HINCRBY', KEYS[i + 2], field, -back)
        end
      end
    end
  end
end

local expected = ARGV[1]
if expected ~= '?' then
  local stored = redis.call('GET', KEYS[1])
  if not stored then stored = '' end
  if stored ~= expected then
    return {2, now, stored}
  end
end

local refused = false
local room, valid = nil, nil
local lows, useds, oldests, flats = {}, {}, {}, {}

for i = 1, n do
  local base = 7 + (i - 1) * 4
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local low = math.floor((now - window) / bucket)
  local flat = redis.call('HGETALL', KEYS[i + 2])
  local used, oldest = 0, -1
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index >= low then
      used = used + tonumber(flat[j + 1])
      if oldest < 0 or index < oldest then oldest = index end
    end
  end
  lows[i], useds[i], oldests[i], flats[i] = low, used, oldest, flat
  if used + cost > limit then refused = true end
  local left = limit - used - cost
  if room == nil or left < room then room = left end
  local ends = (math.floor(now / bucket) + 1) * bucket - now
  if valid == nil or ends < valid then valid = ends end
end

if refused then
  local reply = {1, now, '', 0, 0}
  for i = 1, n do
    local base = 7 + (i - 1) * 4
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local limit = tonumber(ARGV[base + 2])
    local at = 0
    if useds[i] + cost > limit then
      if cost > limit then
        at = -1
      else
        -- The earliest moment enough old buckets have left the window for this cost to fit.
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
          if left + cost <= limit then
            at = (index + 1) * bucket + window
            break
          end
        end
      end
    end
    reply[#reply + 1] = useds[i]
    reply[#reply + 1] = oldests[i]
    reply[#reply + 1] = at
  end
  return reply
end

local holders = KEYS[2]
local token = ARGV[2]
redis.call('ZREMRANGEBYSCORE', holders, '-inf', now)
local held = redis.call('ZCARD', holders)
if not redis.call('ZSCORE', holders, token) then held = held + 1 end
local slice = math.floor(room / (tonumber(ARGV[4]) * held))
local cap = tonumber(ARGV[3])
if slice > cap then slice = cap end
if slice < 0 then slice = 0 end
local charge = cost + slice

local reply = {0, now, '', slice, valid}
for i = 1, n do
  local base = 7 + (i - 1) * 4
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local key = KEYS[i + 2]
  local index = math.floor(now / bucket)
  local counted = redis.call('HINCRBY', key, string.format('%d', index), charge)
  local flat = flats[i]
  for j = 1, #flat, 2 do
    if tonumber(flat[j]) < lows[i] then redis.call('HDEL', key, flat[j]) end
  end
  if counted == charge then
    redis.call('PEXPIRE', key, math.ceil((window + bucket) / 1000) + 1)
  end
  local oldest = oldests[i]
  if oldest < 0 then oldest = index end
  reply[#reply + 1] = useds[i] + charge
  reply[#reply + 1] = oldest
  reply[#reply + 1] = 0
end
if slice > 0 then
  redis.call('ZADD', holders, now + valid, token)
  redis.call('PEXPIRE', holders, math.ceil(valid / 1000) + 1)
elseif back > 0 then
  redis.call('ZREM', holders, token)
end
return reply
