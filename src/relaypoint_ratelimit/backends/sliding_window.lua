-- relaypoint_ratelimit: check (and count) every sliding-window counter of one request, atomically.
--
-- KEYS[1]      the user's stored-tier key (only read when ARGV[2] ~= '?'); any key of the slot otherwise
-- KEYS[2..n+1] one hash per window counter (layout: window.lua, which the backend puts in front)
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

local changed = w_tier_changed(KEYS[1], ARGV[2])
if changed then return {2, now, changed} end

local consume = ARGV[1] == 'c'
local n = #KEYS - 1
local refused = false
local states, useds, oldests, overs, seen = {}, {}, {}, {}, {}

for i = 1, n do
  local base = 3 + (i - 1) * 5
  local window = tonumber(ARGV[base])
  local bucket = tonumber(ARGV[base + 1])
  local s = w_read_once(seen, KEYS[i + 1], window, bucket, now)
  states[i], useds[i], oldests[i] = s, s.used, s.oldest
  overs[i] = s.used + tonumber(ARGV[base + 3]) > tonumber(ARGV[base + 2])
  if overs[i] and ARGV[base + 4] ~= '1' then refused = true end
end

local reply = {0, now, ''}

if refused or not consume then
  if refused then reply[1] = 1 end
  for i = 1, n do
    local base = 3 + (i - 1) * 5
    local at = 0
    if overs[i] then
      at = w_retry_at(states[i], tonumber(ARGV[base]), tonumber(ARGV[base + 1]),
        tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]))
    end
    reply[#reply + 1] = useds[i]
    reply[#reply + 1] = oldests[i]
    reply[#reply + 1] = at
  end
  return reply
end

-- Shadow counters that would refuse get their retry time from the hashes as they were read.
local ats = {}
for i = 1, n do
  if overs[i] then
    local base = 3 + (i - 1) * 5
    ats[i] = w_retry_at(states[i], tonumber(ARGV[base]), tonumber(ARGV[base + 1]),
      tonumber(ARGV[base + 2]), tonumber(ARGV[base + 3]))
  end
end

for i = 1, n do
  if overs[i] then
    -- A shadow counter that would refuse: leave it as an enforced one would have.
    reply[#reply + 1] = useds[i]
    reply[#reply + 1] = oldests[i]
    reply[#reply + 1] = ats[i]
  else
    local base = 3 + (i - 1) * 5
    local cost = tonumber(ARGV[base + 3])
    local s = states[i]
    w_add(s, cost, tonumber(ARGV[base]), tonumber(ARGV[base + 1]))
    local oldest = oldests[i]
    if oldest < 0 then oldest = s.cur end
    reply[#reply + 1] = useds[i] + cost
    reply[#reply + 1] = oldest
    reply[#reply + 1] = 0
  end
end
return reply
