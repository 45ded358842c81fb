-- _prelude: shared by every script; lib/store.c prepends it when it loads
-- one (Redis scripts cannot include each other).
-- alloc: the next epoch/fencing number of a campaign sequence. It is
-- max(INCR, Redis time in microseconds, floor), so numbers handed out after
-- a Redis restart (AOF may have lost up to a second of INCRs) still exceed
-- anything handed out before it.
local function alloc(seqkey, floor)
  local t = redis.call('TIME')
  local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  local v = redis.call('INCR', seqkey)
  local m = math.max(v, now_us, tonumber(floor) or 0)
  if m > v then redis.call('SET', seqkey, string.format('%.0f', m)) end
  return string.format('%.0f', m)
end
