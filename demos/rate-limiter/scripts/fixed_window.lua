-- Fixed window: one counter per key, reset when its window expires.
-- KEYS[1] counter key; ARGV[1] limit; ARGV[2] window in ms.
-- Returns {allowed (1/0), remaining, retry_after_ms}.
local limit = tonumber(ARGV[1])
local count = redis.call('INCR', KEYS[1])
if count == 1 then
  -- The first hit opens the window; the key's time to live is the window's remaining time.
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if count <= limit then
  return {1, limit - count, 0}
end
return {0, 0, redis.call('PTTL', KEYS[1])}
