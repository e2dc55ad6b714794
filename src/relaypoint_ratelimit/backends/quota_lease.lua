-- relaypoint_ratelimit: check one request and lease a slice of every window's remaining budget.
--
-- KEYS[1]      the user's stored-tier key (only read when ARGV[1] ~= '?'); any key of the slot otherwise
-- KEYS[2]      the lease holders of this request's windows (sorted set: holder token -> lease end, µs)
-- KEYS[3..n+2] one hash per window counter (layout: window.lua, which the backend puts in front)
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
    w_refund(KEYS[i + 2], tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 3]),
      back, now)
  end
end

local changed = w_tier_changed(KEYS[1], ARGV[1])
if changed then return {2, now, changed} end

local refused = false
local room, valid = nil, nil
local states, useds, oldests, seen = {}, {}, {}, {}

for i = 1, n do
  local base = 7 + (i - 1) * 4
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local s = w_read_once(seen, KEYS[i + 2], window, bucket, now)
  states[i], useds[i], oldests[i] = s, s.used, s.oldest
  if s.used + cost > limit then refused = true end
  local left = limit - s.used - cost
  if room == nil or left < room then room = left end
  local ends = (s.cur + 1) * bucket - now
  if valid == nil or ends < valid then valid = ends end
end

if refused then
  local reply = {1, now, '', 0, 0}
  for i = 1, n do
    local base = 7 + (i - 1) * 4
    local limit = tonumber(ARGV[base + 2])
    local at = 0
    if useds[i] + cost > limit then
      at = w_retry_at(states[i], tonumber(ARGV[base]), tonumber(ARGV[base + 1]), limit, cost)
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
  local s = states[i]
  w_add(s, charge, tonumber(ARGV[base]), tonumber(ARGV[base + 1]))
  local oldest = oldests[i]
  if oldest < 0 then oldest = s.cur end
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
