-- Sliding window counter: two fixed-window counters, the previous one weighted by how much of
-- it still overlaps the sliding window. O(1) memory, approximate at window edges.
-- KEYS[1] key prefix; ARGV[1] limit; ARGV[2] window in ms.
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local current = math.floor(now / window)
local cur_key = KEYS[1] .. ':' .. current
local prev_key = KEYS[1] .. ':' .. (current - 1)
local cur = tonumber(redis.call('GET', cur_key) or '0')
local prev = tonumber(redis.call('GET', prev_key) or '0')
local elapsed = now - current * window
local estimate = prev * (window - elapsed) / window + cur
if estimate + 1 <= limit then
  redis.call('INCR', cur_key)
  redis.call('PEXPIRE', cur_key, window * 2)
  return {1, math.floor(limit - estimate - 1), 0}
end
-- Retry when the previous window's weight has decayed enough, or at the next window.
local retry = window - elapsed
if prev > 0 then
  local need = (estimate + 1 - limit) * window / prev
  if need < retry then retry = need end
end
return {0, 0, math.ceil(retry)}
