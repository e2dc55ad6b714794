-- relaypoint_ratelimit: give back the unused part of a leased slice, atomically.
--
-- KEYS[1]     the lease holders of the slice's windows (see quota_lease.lua)
-- KEYS[2..n+1] the window counters the slice was counted in (layout: window.lua)
-- ARGV[1]     the holder's token
-- ARGV[2]     units to give back (never more than the slice's unused part)
-- ARGV[3..]   per counter: window_us, bucket_us, index of the bucket the slice was counted in
--
-- The units leave the slice's bucket only while that bucket is still in its window (after that
-- they count nowhere anyway), and never more than the bucket holds: the count stays at least
-- what was admitted. The holder stops counting towards the spread. Reply: {now_us}.

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local units = tonumber(ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[1])

for i = 2, #KEYS do
  local base = 3 + (i - 2) * 3
  w_refund(KEYS[i], tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]),
    units, now)
end
return {now}
