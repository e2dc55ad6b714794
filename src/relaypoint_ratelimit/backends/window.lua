-- relaypoint_ratelimit: the layout of one window counter's hash, shared by every script that reads or
-- writes one (the backend puts this file in front of sliding_window.lua, settle.lua,
-- quota_lease.lua and quota_return.lua, so they cannot disagree on it).
--
-- Fields of the hash:
--   '<bucket index>'  (decimal integer, never negative) the cost counted in that bucket
--   '-1' (t)          the sum of every bucket field of the hash
--   '-2' (o)          the smallest bucket index of the hash
-- Being negative, t and o can never collide with a bucket. Whoever writes a bucket keeps t exact;
-- whoever empties the oldest bucket deletes o. A hash without both (written by the previous
-- layout, which had buckets only, or whose oldest bucket a refund emptied) is read from all of
-- its buckets and gets both back with its next count, so an upgrade mid-window loses nothing.
-- A script of the previous layout meeting t and o (a rolling upgrade) takes them for expired
-- buckets: it counts nothing for them and its next count deletes them, so the next reader here
-- recomputes. (Its refunds leave t too high, which can only refuse early; its settle's extra
-- charge, which deletes nothing, is missing from t until the hash is next recomputed.)
--
-- A check therefore reads HMGET t o <current bucket> and writes one HSET (bucket and t): O(1)
-- whatever the number of buckets. Only when the oldest bucket has left the window does it read
-- the buckets from the oldest to the first live one (one more HMGET, usually two fields) and
-- delete the expired ones; a window whose first live bucket is empty, a refusal (its retry time
-- needs every live bucket) and a hash without the aggregates read the whole hash (HGETALL).

-- The longest run of buckets an HMGET names before the whole hash is read instead.
local W_SPAN = 128
local W_T, W_O = '-1', '-2'

local function w_field(index)
  return string.format('%d', index)
end

-- Read one window counter at low (its oldest bucket that can overlap the window) and cur (the
-- bucket now falls in). The state: used (live cost), oldest (-1 if no live bucket), here (the
-- current bucket's cost), new (the current bucket does not exist yet), drop (expired fields),
-- rewrite (the aggregates must be written), flat (the HGETALL reply when one was made).
local function w_read(key, low, cur)
  local field = w_field(cur)
  local got = redis.call('HMGET', key, W_T, W_O, field)
  local total, oldest = tonumber(got[1]), tonumber(got[2])
  local s = {key = key, low = low, cur = cur, field = field, here = tonumber(got[3]) or 0,
    new = not got[3], rewrite = false, used = 0, oldest = -1}
  if total and oldest then
    if oldest >= low then
      s.used, s.oldest = total, oldest
      return s
    end
    if low - oldest < W_SPAN then
      local fields = {}
      for index = oldest, low do fields[#fields + 1] = w_field(index) end
      local values = redis.call('HMGET', key, unpack(fields))
      if values[#values] then -- bucket low is there: it is the oldest live one
        local gone, drop = 0, {}
        for j = 1, #values - 1 do
          if values[j] then
            gone = gone + tonumber(values[j])
            drop[#drop + 1] = fields[j]
          end
        end
        s.used, s.oldest, s.drop, s.rewrite = total - gone, low, drop, true
        return s
      end
    end
  end
  local flat = redis.call('HGETALL', key)
  local used, first, drop = 0, -1, {}
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index and index >= 0 then -- not an aggregate field
      if index >= low then
        used = used + tonumber(flat[j + 1])
        if first < 0 or index < first then first = index end
      else
        drop[#drop + 1] = flat[j]
      end
    end
  end
  s.used, s.oldest, s.drop, s.rewrite, s.flat = used, first, drop, true, flat
  return s
end

-- w_read of a counter for a window of `window` µs in buckets of `bucket` µs at `now`, once per
-- key: two windows of one length share one hash, so they share one state (`seen`: key -> state).
local function w_read_once(seen, key, window, bucket, now)
  local s = seen[key]
  if not s then
    s = w_read(key, math.floor((now - window) / bucket), math.floor(now / bucket))
    seen[key] = s
  end
  return s
end

-- Count amount in the current bucket of a window read by w_read (and drop its expired buckets).
-- The state then describes the hash as written, so the same key can be counted twice.
local function w_add(s, amount, window, bucket)
  local key = s.key
  local here, total = s.here + amount, s.used + amount
  if s.oldest < 0 then
    s.oldest, s.rewrite = s.cur, true
  end
  -- Counts go as Lua numbers (integers below 2^53 convert exactly); bucket indexes as fields.
  if s.rewrite then
    redis.call('HSET', key, s.field, here, W_T, total, W_O, w_field(s.oldest))
  else
    redis.call('HSET', key, s.field, here, W_T, total)
  end
  if s.drop and #s.drop > 0 then redis.call('HDEL', key, unpack(s.drop)) end
  -- A new bucket lives until (index + 1) * bucket + window < now + window + bucket: extending the
  -- key's life when a bucket is created is enough; later uses of that bucket change nothing.
  if s.new then
    redis.call('PEXPIRE', key, math.ceil((window + bucket) / 1000) + 1)
  end
  s.here, s.used, s.new, s.drop, s.rewrite, s.flat = here, total, false, nil, false, nil
end

-- The earliest moment enough old buckets have left the window for cost to fit within limit
-- (-1: never, the cost alone is over the limit; 0: it fits now).
local function w_retry_at(s, window, bucket, limit, cost)
  if cost > limit then return -1 end
  local flat = s.flat
  if not flat then
    flat = redis.call('HGETALL', s.key)
    s.flat = flat
  end
  local live, counts = {}, {}
  for j = 1, #flat, 2 do
    local index = tonumber(flat[j])
    if index and index >= s.low then
      live[#live + 1] = index
      counts[index] = tonumber(flat[j + 1])
    end
  end
  table.sort(live)
  local left = s.used
  for _, index in ipairs(live) do
    left = left - counts[index]
    if left + cost <= limit then return (index + 1) * bucket + window end
  end
  return 0
end

-- Take up to units back from bucket index of a window (only while that bucket can still overlap
-- the window, and never more than it holds). Returns the units taken.
local function w_refund(key, window, bucket, index, units, now)
  if units <= 0 or index < math.floor((now - window) / bucket) then return 0 end
  local field = w_field(index)
  local got = redis.call('HMGET', key, field, W_T, W_O)
  local counted = tonumber(got[1]) or 0
  if counted <= 0 then return 0 end
  local take = math.min(units, counted)
  local total = tonumber(got[2])
  if take >= counted then
    if got[3] and tonumber(got[3]) == index then
      redis.call('HDEL', key, field, W_O) -- the oldest bucket is gone: the next reader finds the next
    else
      redis.call('HDEL', key, field)
    end
    if total then redis.call('HSET', key, W_T, total - take) end
  elseif total then
    redis.call('HSET', key, field, counted - take, W_T, total - take)
  else
    redis.call('HSET', key, field, counted - take)
  end
  return take
end

-- The stored-tier check of the counting scripts (sliding_window.lua, quota_lease.lua): the tier
-- stored at `key` ('' = none) when it differs from `expected`, nil when it matches or when
-- `expected` is '?' (no check asked for).
local function w_tier_changed(key, expected)
  if expected == '?' then return nil end
  local stored = redis.call('GET', key) or ''
  if stored ~= expected then return stored end
  return nil
end
