-- Leaky bucket: a level that drains at a constant rate; a request adds one drop if it fits.
-- KEYS[1] bucket hash; ARGV[1] capacity; ARGV[2] time in ms to drain a full bucket.
-- Smooths bursts into a steady rate.
local capacity = tonumber(ARGV[1])
local drain_ms = tonumber(ARGV[2])
local rate = capacity / drain_ms              -- drops per ms
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local b = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(b[1] or '0')
local ts = tonumber(b[2] or now)
level = math.max(0, level - (now - ts) * rate)
if level + 1 <= capacity then
  level = level + 1
  redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', now)
  redis.call('PEXPIRE', KEYS[1], drain_ms)
  return {1, math.floor(capacity - level), 0}
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', now)
return {0, 0, math.ceil((level + 1 - capacity) / rate)}
