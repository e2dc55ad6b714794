-- relaypoint_ratelimit: settle a reservation, atomically.
--
-- KEYS[1..n]  the window counters the reservation was counted in (hashes: bucket index -> cost)
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
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local index = tonumber(ARGV[base + 3])
    if index >= math.floor((now - window) / bucket) then
      local field = string.format('%d', index)
      local counted = tonumber(redis.call('HGET', KEYS[i], field) or '0')
      if counted > 0 then
        local take = math.min(refund, counted)
        if take >= counted then
          redis.call('HDEL', KEYS[i], field)
        else
          redis.call('HINCRBY', KEYS[i], field, -take)
        end
      end
    end
  end
end

local charged = 0
if extra > 0 then
  local room = extra
  for i = 1, n do
    local base = 3 + (i - 1) * 4
    local window = tonumber(ARGV[base])
    local bucket = tonumber(ARGV[base + 1])
    local limit = tonumber(ARGV[base + 2])
    local low = math.floor((now - window) / bucket)
    local flat = redis.call('HGETALL', KEYS[i])
    local used = 0
    for j = 1, #flat, 2 do
      if tonumber(flat[j]) >= low then used = used + tonumber(flat[j + 1]) end
    end
    room = math.min(room, limit - used)
  end
  if room > 0 then
    charged = room
    for i = 1, n do
      local base = 3 + (i - 1) * 4
      local window = tonumber(ARGV[base])
      local bucket = tonumber(ARGV[base + 1])
      local field = string.format('%d', math.floor(now / bucket))
      local counted = redis.call('HINCRBY', KEYS[i], field, charged)
      if counted == charged then
        redis.call('PEXPIRE', KEYS[i], math.ceil((window + bucket) / 1000) + 1)
      end
    end
  end
end
return {now, charged}
