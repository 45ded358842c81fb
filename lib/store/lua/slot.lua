-- slot: counting semaphore with expiring holders (per-step concurrency
-- limits such as concurrent snapshot copies per account/region). A holder
-- refreshes its slot each time it re-runs; a holder that vanished frees its
-- slot when the expiry passes.
-- KEYS[1] slots zset. ARGV[1] op ('acquire'|'release'), [2] member,
-- [3] now_ms, [4] ttl_ms, [5] limit. Returns 1 held, 0 full (acquire).
local now = tonumber(ARGV[3])
if ARGV[1] == 'release' then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) or redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[5]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  return 1
end
return 0
