-- relaypoint_ratelimit: settle a reservation, atomically.
--
-- KEYS[1..n]  the window counters the reservation was counted in (layout: window.lua)
-- ARGV[1]     units to refund from the reservation's bucket (0: none)
-- ARGV[2]     extra units to charge now (0: none); charged only as far as every counter has room
-- ARGV[3..]   per counter: window_us, bucket_us, limit, index of the reservation's bucket
--
-- A refund only lowers a bucket that is still live, so it can never make room that was not
-- really used; an extra charge is capped by the tightest counter's room, so no interval of a
-- window's length ever holds more than its limit. Reply: {now_us, charged}.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local refund = tonumber(ARGV[1])
local extra = tonumber(ARGV[2])
local n = #KEYS

if refund > 0 then
  for i = 1, n do
    local base = 3 + (i - 1) * 4
    w_refund(KEYS[i], tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 3]),
      refund, now)
  end
end

local charged = 0
if extra > 0 then
  local room = extra
  local states, seen = {}, {}
  for i = 1, n do
    local base = 3 + (i - 1) * 4
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local s = w_read_once(seen, KEYS[i], window, bucket, now)
    states[i] = s
    room = math.min(room, tonumber(ARGV[base + 2]) - s.used)
  end
  if room > 0 then
    charged = room
    for i = 1, n do
      local base = 3 + (i - 1) * 4
      w_add(states[i], charged, tonumber(ARGV[base]), tonumber(ARGV[base + 1]))
    end
  end
end
return {now, charged}
